"""Insight commands from a file to a file.

``carsight triggers`` (association rules that lead to an outcome, ranked by profit efficiency or
lift) and ``carsight drivers`` (the segments that explain the change in a total between two
periods). Heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, parse_pairs, progress, settings
from carsight.errors import InputError
from carsight.i18n import t

Encoding = Annotated[str | None, typer.Option("--encoding", help="File encoding (detected by default)")]
Sheet = Annotated[str | None, typer.Option("--sheet", help="Excel sheet name")]


def register(app: typer.Typer) -> None:
    app.command("triggers", help="Trigger conditions for a yes/no outcome (association rules), from a file to a file.")(
        triggers
    )
    app.command("drivers", help="The segments that explain the change in a total between two periods.")(drivers)


def _read(path: Path, encoding: str | None, sheet: str | None):
    from carsight.ingest import read_raw

    if not Path(path).exists():
        raise InputError("file not found", file=str(path))
    frame = read_raw(path, encoding=encoding, sheet=sheet)
    if frame.empty:
        raise InputError("the table has no data rows", file=str(path))
    return frame


def _cuts(pairs: list[str] | None) -> dict[str, list[float]]:
    out = {}
    for column, text in parse_pairs(pairs, "--cuts").items():
        try:
            out[column] = [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise InputError(
                f"--cuts '{column}={text}' is not a list of numbers", column="--cuts", expected="e.g. age=30,40,50"
            ) from None
        if not out[column]:
            raise InputError(f"--cuts '{column}=' has no cut points", column="--cuts", expected="e.g. age=30,40,50")
    return out


def _write(frame, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False, encoding="utf-8")


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return format(value, fmt) if fmt else str(value)


def triggers(
    table: Annotated[Path, typer.Option("--table", help="CSV, Excel or Parquet file, one row per customer")],
    target: Annotated[str, typer.Option("--target", help="The yes/no outcome column")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the rules (CSV)")],
    positive: Annotated[str | None, typer.Option("--positive", help="The outcome value that counts as 'yes'")] = None,
    max_conditions: Annotated[int, typer.Option("--max-conditions", help="Conditions per rule")] = 3,
    min_support: Annotated[
        float, typer.Option("--min-support", help="Minimum share of all rows meeting the conditions with the outcome")
    ] = 0.01,
    min_lift: Annotated[float, typer.Option("--min-lift", help="Drop rules below this lift")] = 1.2,
    margin: Annotated[float | None, typer.Option("--margin", help="Profit of one responder")] = None,
    contact_cost: Annotated[float | None, typer.Option("--contact-cost", help="Cost of one contact")] = None,
    bins: Annotated[int, typer.Option("--bins", help="Quantile bins per numeric column")] = 4,
    cuts: Annotated[
        list[str] | None, typer.Option("--cuts", help="Own cut points for a column, e.g. age=30,40,50 (repeatable)")
    ] = None,
    closed: Annotated[
        str, typer.Option("--closed", help="Bins closed on the right (x<=a), left (x>=a) or auto (left for counts)")
    ] = "auto",
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Column to leave out (repeatable)")] = None,
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="eclat (fast, the default) or fpgrowth (mlxtend; same rules)")
    ] = "eclat",
    representative: Annotated[
        bool, typer.Option("--representative", help="Write only rules that overlap no better rule by more than half")
    ] = False,
    encoding: Encoding = None,
    sheet: Sheet = None,
) -> None:
    from rich.table import Table as RichTable

    from carsight.customers.triggers import RULE_COLUMNS, triggers_on_table

    lang = settings().lang
    if (margin is None) != (contact_cost is None):
        missing = "--margin" if margin is None else "--contact-cost"
        raise InputError("give both --margin and --contact-cost, or neither", column=missing)
    with progress() as bar:
        bar.add_task("triggers", total=None)
        frame = _read(table, encoding, sheet)
        miner = triggers_on_table(
            frame,
            target,
            positive,
            exclude=exclude or [],
            file=str(table),
            max_conditions=max_conditions,
            min_support=min_support,
            min_lift=min_lift,
            margin=margin,
            contact_cost=contact_cost,
            bins=bins,
            cuts=_cuts(cuts),
            closed=closed,
            algorithm=algorithm,
        )
    rules = miner.rules_
    if representative:
        rules = rules[rules.representative]
    _write(rules[list(RULE_COLUMNS)], output)
    for column, why in miner.discretiser_.dropped_.items():
        reason = t(f"insights.dropped.{why}", lang)
        err_console.print(t("insights.triggers.dropped", lang, column=column, why=reason), highlight=False)
    shown = RichTable(title=t("insights.triggers.title", lang, target=target))
    formats = {"coverage": ".2%", "confidence": ".1%", "lift": ".2f", "customers": ",d", "responders": ",d"}
    columns = ["conditions", *formats] + (["profit_efficiency"] if miner.ranks_by_profit else [])
    formats["profit_efficiency"] = ".2f"
    for column in columns:
        shown.add_column(t(f"insights.column.{column}", lang), justify="left" if column == "conditions" else "right")
    for row in rules.head(10).itertuples(index=False):
        shown.add_row(*[str(row.conditions)] + [_cell(getattr(row, c), formats[c]) for c in columns[1:]])
    console.print(shown)
    console.print(
        t(
            "insights.triggers.summary",
            lang,
            rules=len(rules),
            mined=miner.n_mined_,
            rows=miner.n_rows_,
            conditions=miner.n_conditions_,
            rate=miner.base_rate_,
            path=output,
        )
    )
    if miner.ranks_by_profit and len(rules):
        everyone = miner.everyone()["profit_efficiency"]
        best = float(rules.profit_efficiency.iloc[0])
        console.print(t("insights.triggers.everyone", lang, everyone=everyone, best=best))
    if not len(rules):
        err_console.print(t("insights.triggers.none", lang), highlight=False)


def drivers(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV, Excel or Parquet file in long format")],
    value_col: Annotated[str, typer.Option("--value-col", help="The value whose total changed (units, revenue)")],
    date_col: Annotated[str, typer.Option("--date-col", help="Date or month column")],
    dims: Annotated[str, typer.Option("--dims", help="Dimension columns, comma-separated (e.g. model,market,kind)")],
    base: Annotated[str, typer.Option("--base", help="Base months, inclusive: FROM:TO (e.g. 2024-01:2024-06)")],
    current: Annotated[str, typer.Option("--current", help="Current months, inclusive: FROM:TO")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the segments (CSV)")],
    size_col: Annotated[
        str | None, typer.Option("--size-col", help="Size column (units, buyers): adds the volume/mix/rate split")
    ] = None,
    max_segments: Annotated[int, typer.Option("--max-segments", help="At most this many segments")] = 10,
    max_depth: Annotated[int, typer.Option("--max-depth", help="At most this many dimensions per segment")] = 3,
    encoding: Encoding = None,
    sheet: Sheet = None,
) -> None:
    from rich.table import Table as RichTable

    from carsight.market.drivers import drivers_from_long

    lang = settings().lang
    names = [d.strip() for d in dims.split(",") if d.strip()]
    with progress() as bar:
        bar.add_task("drivers", total=None)
        frame = _read(input, encoding, sheet)
        result = drivers_from_long(
            frame,
            value_col=value_col,
            date_col=date_col,
            dims=names,
            base=base,
            current=current,
            size_col=size_col,
            file=str(input),
            max_segments=max_segments,
            max_depth=max_depth,
        )
    segments = result.segments
    _write(segments, output)
    shown = RichTable(title=t("insights.drivers.title", lang, base=base, current=current))
    numbers = ["base", "current", "change", "share_of_change"] + (["volume", "mix", "rate"] if size_col else [])
    for column in names:
        shown.add_column(column)
    for column in numbers:
        shown.add_column(t(f"insights.column.{column}", lang), justify="right")
    for row in segments.to_dict(orient="records"):
        cells = [row[d] if row[d] is not None else t("insights.drivers.all", lang) for d in names]
        cells += [_cell(row[c], ".1%" if c == "share_of_change" else ",.0f") for c in numbers]
        shown.add_row(*cells)
    console.print(shown)
    console.print(
        t(
            "insights.drivers.summary",
            lang,
            base=result.base_total,
            current=result.current_total,
            change=result.change,
            n=len(segments),
            explained=result.explained if result.change else 0.0,
            path=output,
        )
    )
    for note in result.messages(lang):
        err_console.print(note, highlight=False)
