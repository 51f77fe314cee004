"""What every CLI command shares.

The settings chosen by global flags, the warehouse, consoles, progress bars and ``KEY=VALUE``
parsing.
"""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from carsight.config import Settings, get_settings
from carsight.errors import InputError

console = Console()
err_console = Console(stderr=True)


class _State:
    overrides: dict = {}

    @property
    def settings(self) -> Settings:
        return get_settings(**self.overrides)


state = _State()


def settings() -> Settings:
    """The settings of this command (global flags over the environment and file)."""
    return state.settings


@contextmanager
def warehouse(read_only: bool = False, init: bool = True):
    """Open the configured warehouse for one command (created/migrated unless read-only).

    Read-only commands read the newest published results (:func:`carsight.warehouse.open_reader`),
    so they answer while a pipeline run or a load writes.
    """
    from carsight.warehouse import connect, open_reader

    wh = open_reader(settings().warehouse) if read_only else connect(settings().warehouse, init=init)
    try:
        yield wh
    finally:
        wh.close()


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, str]:
    """``["a=b", "c=d"]`` → ``{"a": "b", "c": "d"}``, with a clear error for a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"{option} '{pair}' is not of the form NAME=VALUE", column=option)
        key, value = pair.split("=", 1)
        if not key.strip():
            raise InputError(f"{option} '{pair}' has an empty name", column=option)
        out[key.strip()] = value.strip()
    return out


def progress(transient: bool = True) -> Progress:
    """The progress bar style used by every long-running command."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
    )
