"""User-facing failure kinds.

Edges (CLI, API, dashboard) turn these into one clear line, a 4xx response or a message beside a
form field; anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class CarsightError(Exception):
    """Base class of every error a user is meant to read."""


@dataclass
class InputError(CarsightError):
    """Bad input: says which file, row and column, and what was expected."""

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    expected: str | None = None

    def __post_init__(self) -> None:
        """Make the exception's message the formatted text."""
        super().__init__(str(self))

    def __str__(self) -> str:
        """The message with where it happened and what was expected."""
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = self.message
        if where:
            text = f"{', '.join(where)}: {text}"
        if self.expected:
            text = f"{text} (expected {self.expected})"
        return text


class WarehouseError(CarsightError):
    """The warehouse cannot be opened, or lacks a table a step needs."""


class NotBuiltForSpark(WarehouseError):
    """A pipeline step, or part of one, that does not run on a Spark warehouse yet (docs/scale.md).

    Parameters
    ----------
    step
        The step's name.
    missing
        What it would need (what collects every row to the driver today).
    """

    def __init__(self, step: str, missing: str):
        self.step, self.missing = step, missing
        super().__init__(f"step '{step}' does not run on a Spark warehouse yet: {missing}")


class NotFoundError(CarsightError):
    """An id (customer, series, model directory) that does not exist."""


class AccessDenied(CarsightError):
    """The user's role may not read this at all (a table, a page, a route); see carsight.access."""


class ModelError(CarsightError):
    """A saved model is missing, of the wrong kind, or does not fit the data given to it."""


class DataTooThinError(CarsightError):
    """The data cannot support the requested result (too few rows or positives)."""
