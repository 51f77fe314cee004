"""Sharing one DuckDB file between a writer and the dashboard's readers.

DuckDB lets one process write *or* many processes read a file. A writer that finds the file read
for a moment waits for it (:func:`is_lock_error` tells that case apart); a long writer (the
pipeline) publishes a *reading copy* beside the file after each step, which the dashboard reads
while the writer holds the file, and removes it when done (docs/dashboard.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carsight.warehouse.connection import Warehouse

# DuckDB's messages for "another process writes" and "another session of this process reads right
# now (a write connection cannot join it)".
LOCK_WORDS = ("lock", "conflicting", "being used", "resource temporarily unavailable", "different configuration")


_COPY = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"


def is_lock_error(exc: BaseException) -> bool:
    """Whether opening the warehouse failed only because another connection holds the file."""
    text = str(exc).lower()
    return any(word in text for word in LOCK_WORDS)


def reading_copy_path(path: str | os.PathLike) -> Path:
    """Where a writer publishes the reading copy of the DuckDB file at ``path``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.reading{path.suffix or '.duckdb'}")


def publish_reading_copy(wh: Warehouse, path: Path) -> Path:
    """Publish the reading copy of the file at ``path``.

    Everything is written to the file first, and the copy replaces the old one in one rename, so a
    reader sees the old copy or the new one, never half of one.

    Parameters
    ----------
    wh : Warehouse
        The open (writing) connection to the file at ``path``.
    path : Path
        The DuckDB file.

    Returns
    -------
    Path
        The reading copy.
    """
    wh.con.raw_sql("CHECKPOINT")
    copy = reading_copy_path(path)
    partial = copy.with_name(copy.name + ".part")
    # Copied by a child process: DuckDB's lock on the file is a POSIX record lock, which this process
    # would lose the moment it closed any descriptor of the file, letting other writers in.
    subprocess.run([sys.executable, "-c", _COPY, str(path), str(partial)], check=True)
    os.replace(partial, copy)
    return copy


def withdraw_reading_copy(path: Path) -> None:
    """Remove the reading copy of the file at ``path`` (the writer is done: read the file itself)."""
    reading_copy_path(path).unlink(missing_ok=True)
