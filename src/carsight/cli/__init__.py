"""The ``carsight`` command line.

Each area registers its commands from its own module (``cli/<area>.py`` defines ``register(app)``);
this module wires them and turns user-facing errors into one clear line and a non-zero exit code.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer._click.exceptions import ClickException  # typer (pinned) vendors click
from typer.exceptions import Abort, Exit

from carsight.cli import (
    access,
    core,
    customers,
    delivery,
    demo,
    ingest,
    insights,
    market,
    monitor,
    propensity,
    serve,
    voc,
)
from carsight.cli.common import err_console, state
from carsight.errors import CarsightError

app = typer.Typer(
    name="carsight",
    help="carsight: customer and sales intelligence for car sales organisations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Order here is the order in `carsight --help`.
_AREAS = (core, ingest, demo, customers, propensity, market, monitor, insights, voc, serve, delivery, access)


@app.callback()
def _global(
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse", "-w", help="DuckDB file or Ibis URL (default: $CARSIGHT_WAREHOUSE or ./carsight.duckdb)"
        ),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Output language: ko or en")] = None,
) -> None:
    state.overrides = {k: v for k, v in {"warehouse": warehouse, "lang": lang}.items() if v is not None}


for _area in _AREAS:
    _area.register(app)


def _debug() -> bool:
    """Whether a failure shows its traceback.

    ``settings.debug`` (``CARSIGHT_DEBUG`` or ``debug`` in carsight.toml), the one switch the
    dashboard reads too. Settings that cannot be read are the error being reported, so they show no
    traceback.
    """
    try:
        return state.settings.debug
    except CarsightError:
        return False


def main(argv: list[str] | None = None) -> None:
    """Console entry point: errors a user can act on become one line on stderr, never a traceback."""
    try:
        result = app(args=argv, prog_name="carsight", standalone_mode=False)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exit as exc:
        sys.exit(exc.exit_code)
    except CarsightError as exc:
        if _debug():
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug: still one line, with a way to see the traceback
        if _debug():
            raise
        err_console.print(
            f"[bold red]unexpected error:[/] {type(exc).__name__}: {exc} (set CARSIGHT_DEBUG=1 for details)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
