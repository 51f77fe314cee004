"""Readers never wait for writers: the published snapshot of a DuckDB warehouse.

DuckDB lets one process write a file *or* many processes read it, and a pipeline run or a load
writes for minutes (an hour at a maker's scale). So readers (the dashboard, the API, reports,
campaign lists) never open the writer's file. Every writer *publishes* a snapshot when it has
something complete to show:

- the pipeline after each step (and when it starts, so its progress is visible),
- a load (``carsight ingest``, ``carsight demo``) after each completely loaded file,
- any other write connection when it closes having changed the file (the desk's "save", a
  campaign's delivery log), and a writer that opens a file with nothing published yet, so a reader
  started in the middle of the first load has something to read.

A snapshot is a copy of the checkpointed file under a name never used before
(``<stem>.published/<time>-<id>.duckdb``), named by ``current.json`` beside it; the pointer is
replaced in one rename, so a reader finds the old snapshot or the new one, never half of one. Names
are never reused because DuckDB shares one open database per path inside a process: a path whose
file was replaced would keep serving the old one. Old snapshots are deleted once the pointer moved;
a reader that has one open keeps reading it (Linux keeps an unlinked file alive while it is open),
and a reader that finds its snapshot gone a moment before opening it reads the newest one.

Reading is :mod:`carsight.warehouse.reading` (``open_reader``, the one read path).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from carsight.config import warehouse_url
from carsight.errors import WarehouseError

if TYPE_CHECKING:
    from carsight.warehouse.connection import Warehouse

# DuckDB's messages for "another process writes" and "another session of this process reads right
# now (a write connection cannot join it)".
LOCK_WORDS = ("lock", "conflicting", "being used", "resource temporarily unavailable", "different configuration")

POINTER = "current.json"


def is_lock_error(exc: BaseException) -> bool:
    """Whether opening the warehouse failed only because another connection holds the file."""
    text = str(exc).lower()
    return any(word in text for word in LOCK_WORDS)


@dataclass(frozen=True)
class Publication:
    """One published snapshot: its file and when and by what it was published.

    Attributes
    ----------
    file : str
        The snapshot's file name inside :func:`published_dir` (unique, never reused).
    published_at : str
        When it was published, ISO 8601 with the local offset (seconds).
    writer : str
        What published it: ``pipeline``, ``load`` (a completely loaded file), ``write`` (a write
        connection that closed) or ``open`` (a file's first snapshot, when a writer opened it).
    detail : str
        The pipeline's progress (``3/6 market``: steps done, the one running), or the table and
        file a load filled.
    """

    file: str
    published_at: str
    writer: str
    detail: str = ""

    @property
    def time(self) -> dt.datetime:
        """:attr:`published_at` as a datetime."""
        return dt.datetime.fromisoformat(self.published_at)


def published_dir(path: str | os.PathLike) -> Path:
    """The folder of the snapshots of the DuckDB file at ``path`` (``carsight.published`` beside ``carsight.duckdb``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}.published")


def latest_publication(path: str | os.PathLike) -> Publication | None:
    """The newest snapshot of the DuckDB file at ``path``, or None when nothing was published."""
    pointer = published_dir(path) / POINTER
    try:
        return Publication(**json.loads(pointer.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None


def _copy_command(source: Path, target: Path) -> list[str]:
    # A copy-on-write clone where the file system offers one (btrfs, XFS): instant at any size.
    if sys.platform == "linux" and shutil.which("cp"):
        return ["cp", "--reflink=auto", str(source), str(target)]
    return [sys.executable, "-I", "-S", "-c", "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])",
            str(source), str(target)]  # fmt: skip


def publish(wh: Warehouse, *, writer: str, detail: str = "") -> Publication:
    """Publish what the open writing connection ``wh`` has committed as the newest snapshot.

    Parameters
    ----------
    wh : Warehouse
        A writing connection to a DuckDB file, outside any transaction.
    writer : str
        What publishes (``pipeline``, ``load``, ``write``, ``open``).
    detail : str
        A few words on what the snapshot holds (the pipeline's progress, the file loaded).

    Returns
    -------
    Publication
        The snapshot now named by the pointer.

    Raises
    ------
    WarehouseError
        For a read-only or non-DuckDB connection, or when the copy fails (such as a full disk); the
        previous snapshot stays published then.
    """
    path = duckdb_file(wh.url)
    if path is None or wh.read_only:
        raise WarehouseError(f"only a writing connection to a DuckDB file publishes snapshots, not {wh.url}")
    # Everything committed goes into the file itself (the WAL is not copied).
    wh.con.con.execute("CHECKPOINT")
    folder = published_dir(path)
    folder.mkdir(exist_ok=True)
    now = dt.datetime.now().astimezone().replace(microsecond=0)
    name = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.duckdb"
    partial = folder / f"{name}.part"
    # Copied by a child process: DuckDB's lock on the file is a POSIX record lock, which this process
    # would lose the moment it closed any descriptor of the file, letting another writer in.
    done = subprocess.run(_copy_command(path, partial), capture_output=True, text=True)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise WarehouseError(f"could not publish a snapshot of {path}: {done.stderr.strip() or done.returncode}")
    os.replace(partial, folder / name)
    publication = Publication(name, now.isoformat(), writer, detail)
    pointer = folder / f"{POINTER}.{uuid.uuid4().hex[:8]}.part"
    pointer.write_text(json.dumps(asdict(publication)), encoding="utf-8")
    os.replace(pointer, folder / POINTER)
    # The older snapshots and anything a killed publisher left: readers that have one open keep it.
    # Only the writer, which holds the file's lock, publishes, so nothing else writes here now.
    for old in folder.iterdir():
        if (
            old.name != name
            and old.name != POINTER
            and (old.suffix in (".duckdb", ".part") or old.name.endswith(".wal"))
        ):
            old.unlink(missing_ok=True)
    return publication


def duckdb_file(location: str) -> Path | None:
    """The DuckDB file behind a warehouse location, or None for server backends and :memory:."""
    url = warehouse_url(location)
    if not url.startswith("duckdb://"):
        return None
    path = url[len("duckdb://") :]
    return Path(path) if path and path != ":memory:" else None


def file_stamp(location: str) -> str | None:
    """A stamp that changes whenever a DuckDB warehouse is written; None for servers.

    Made of the mtime and size of the file and its WAL, so readers (dashboard caches, the API) can
    tell cheaply that they must reload.
    """
    path = duckdb_file(location)
    if path is None:
        return None
    parts = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            info = file.stat()
            parts.append(f"{info.st_mtime_ns}:{info.st_size}")
        except FileNotFoundError:
            parts.append("-")
    return "|".join(parts)
