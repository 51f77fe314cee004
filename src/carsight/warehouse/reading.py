"""The one read path: the newest complete published results, opened read-only.

Everything that reads the warehouse for people (the dashboard, the API, reports, campaign lists)
opens it with :func:`open_reader`, so readers never wait for a writer and never see half of a run:
a DuckDB warehouse is read from the newest snapshot its writers published
(:mod:`carsight.warehouse.sharing`); before anything was published, from the file itself,
read-only, and the reader says so. Server warehouses (Ibis URLs) have concurrent readers of their
own and are read directly. The access-control issue's scoped reader sits on :class:`Reader`.
"""

from __future__ import annotations

import time

from carsight.errors import WarehouseError
from carsight.warehouse.connection import Warehouse, connect
from carsight.warehouse.sharing import (
    Publication,
    duckdb_file,
    file_stamp,
    is_lock_error,
    latest_publication,
    published_dir,
)

# How long a reader waits for the first snapshot of a file a writer holds: the writer publishes one
# as soon as it opens a file with nothing published (the copy takes about a second per GB).
FIRST_PUBLICATION_WAIT_S = 60.0


class NotPublishedYet(WarehouseError):
    """A writer holds a warehouse that has published nothing yet (its first load is starting)."""


class Reader(Warehouse):
    """A read-only connection to the newest published results (see :func:`open_reader`).

    Attributes
    ----------
    location : str
        The warehouse as configured (not the snapshot's file).
    publication : Publication or None
        The snapshot read; None when nothing was published and the warehouse itself is read.
    """

    def __init__(self, location: str, url: str, publication: Publication | None):
        super().__init__(url, read_only=True)
        self.location = location
        self.publication = publication

    @property
    def published(self) -> bool:
        """Whether this reads a published snapshot (False: the warehouse itself)."""
        return self.publication is not None


def stamp_of(wh: Warehouse, location: str) -> str:
    """What ``wh`` (from :func:`open_reader` on ``location``) reads, as :func:`reading_stamp` names it."""
    return wh.publication.file if wh.publication is not None else reading_stamp(location)


def reading_stamp(location: str) -> str:
    """Changes whenever readers of ``location`` have something new to read.

    The newest snapshot's name; before anything was published, the warehouse file's own stamp; for
    a server warehouse, a stamp that changes every minute. Cheap: no connection is opened. It keys
    the dashboard's cached queries and tells the API to reload.
    """
    path = duckdb_file(location)
    if path is None:
        return f"live:{int(time.time() // 60)}"
    publication = latest_publication(path)
    if publication is not None:
        return publication.file
    return f"unpublished:{file_stamp(location)}"


def open_reader(location: str, *, publication: Publication | None = None) -> Warehouse:
    """Open the newest complete published results of ``location`` read-only.

    Parameters
    ----------
    location : str
        The warehouse (``settings.warehouse``): a DuckDB file or an Ibis URL.
    publication : Publication, optional
        The snapshot to open (one the caller looked up already, so its cache key matches what it
        reads); the newest when it is gone or not given.

    Returns
    -------
    Warehouse
        A read-only connection: a :class:`Reader` of the newest snapshot of a DuckDB file (its
        ``publication`` is None when nothing was published yet and the file itself is read), or
        the server or Spark warehouse itself (``publication`` None).

    Raises
    ------
    WarehouseError
        When the warehouse does not exist. :class:`NotPublishedYet` when a writer holds a file that
        has published nothing for :data:`FIRST_PUBLICATION_WAIT_S` seconds.
    """
    path = duckdb_file(location)
    if path is None:  # a server or Spark warehouse: concurrent readers of its own, read live
        return connect(location, read_only=True)
    deadline = time.monotonic() + FIRST_PUBLICATION_WAIT_S
    missing: set[str] = set()
    while True:
        publication = publication or latest_publication(path)
        if publication is not None:
            snapshot = published_dir(path) / publication.file
            try:
                return Reader(location, str(snapshot), publication)
            except WarehouseError:
                if snapshot.exists():
                    raise
                if publication.file in missing:  # not a race: the pointer names a file that is gone
                    raise WarehouseError(
                        f"the published snapshot {snapshot} is missing; any write to the warehouse publishes "
                        "a new one (e.g. `carsight init`)"
                    ) from None
                missing.add(publication.file)
                publication = None  # a newer snapshot replaced it a moment ago: read that one
                continue
        try:
            return Reader(location, location, None)
        except WarehouseError as exc:
            if not is_lock_error(exc):
                raise
            # A writer opened the file a moment ago and is publishing its first snapshot.
            if time.monotonic() >= deadline:
                raise NotPublishedYet(
                    f"warehouse {path} is being written and has published nothing yet; it becomes readable "
                    "as soon as the writer publishes"
                ) from exc
            time.sleep(0.5)
