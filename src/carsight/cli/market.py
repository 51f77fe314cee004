"""Market commands: ``carsight market top|unusual|compare|trend`` and ``carsight forecast``.

The market commands read the warehouse; ``carsight forecast`` goes from a file to a file. Heavy
imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, progress, settings, warehouse
from carsight.errors import InputError
from carsight.i18n import t

Start = Annotated[str | None, typer.Option("--start", help="First month (YYYY-MM); default: 12 months before --end")]
End = Annotated[str | None, typer.Option("--end", help="Last month (YYYY-MM); default: the last month with data")]
Kind = Annotated[str | None, typer.Option("--kind", help="domestic, export or overseas_plant (default: all)")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Also write the table to this CSV file")]


def register(app: typer.Typer) -> None:
    market = typer.Typer(help="Sales and export analytics over sales_monthly.", no_args_is_help=True)
    market.command("top", help="Top models per market: units, share and year-on-year change.")(top)
    market.command("unusual", help="Models that sell unusually well in a market (share vs overall).")(unusual)
    market.command("compare", help="Share matrix of markets × top models (heatmap data).")(compare)
    market.command("trend", help="Monthly trend and seasonal indices of one series.")(trend)
    app.add_typer(market, name="market")
    app.command("forecast", help="Backtested forecasts with 80/95% intervals, from a file to a file.")(forecast)


def _period(wh, start: str | None, end: str | None):
    import pandas as pd

    from carsight.market import analytics as A

    if end is None:
        _, last = A.last_period(wh, 12)
    else:
        last = A._month(end)
    first = A._month(start) if start else (pd.Timestamp(last) - pd.DateOffset(months=11)).date()
    if first > last:
        raise InputError(f"--start {first:%Y-%m} is after --end {last:%Y-%m}", column="--start", expected="start ≤ end")
    return first, last


def _show(frame, columns: dict[str, str], title: str, formats: dict[str, str] | None = None) -> None:
    from rich.table import Table as RichTable

    lang = settings().lang
    table = RichTable(title=title)
    for col, key in columns.items():
        table.add_column(t(f"market.column.{key}", lang), justify="left" if frame[col].dtype == object else "right")
    formats = formats or {}
    for row in frame[list(columns)].itertuples(index=False):
        cells = []
        for col, value in zip(columns, row, strict=True):
            if value is None or (isinstance(value, float) and value != value):
                cells.append("—")
            elif col in formats:
                cells.append(format(value, formats[col]))
            elif isinstance(value, float):
                cells.append(f"{value:,.1f}")
            elif isinstance(value, bool):
                cells.append("●" if value else "")
            elif isinstance(value, int):
                cells.append(f"{value:,}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console.print(table)


def _write(frame, output: Path | None) -> None:
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(output, index=False, encoding="utf-8-sig")
        err_console.print(f"→ {output}")


def top(
    market: Annotated[
        str | None, typer.Option("--market", "-m", help="One market, or ALL for all markets together")
    ] = None,
    n: Annotated[int, typer.Option("--n", "-n", help="How many models per market")] = 10,
    start: Start = None,
    end: End = None,
    kind: Kind = None,
    output: Output = None,
) -> None:
    from carsight.market import analytics as A

    with warehouse(read_only=True) as wh:
        first, last = _period(wh, start, end)
        frame = A.top_models(wh, first, last, market=market, n=n, kind=kind)
    lang = settings().lang
    for name, part in frame.groupby("market", sort=True):
        _show(
            part,
            {"rank": "model", "brand": "brand", "model": "model", "units": "units", "share": "share", "yoy": "yoy"},
            t("market.title.top", lang, market=name, start=f"{first:%Y-%m}", end=f"{last:%Y-%m}"),
            {"rank": "d", "units": ",d", "share": ".1f", "yoy": "+.1f"},
        )
    _write(frame, output)


def unusual(
    min_points: Annotated[
        float, typer.Option("--min-points", help="Flag a model this many share points above overall")
    ] = 5.0,
    show_all: Annotated[bool, typer.Option("--all", help="Show every model × market, not only flagged ones")] = False,
    start: Start = None,
    end: End = None,
    kind: Kind = None,
    output: Output = None,
) -> None:
    from carsight.market import analytics as A

    with warehouse(read_only=True) as wh:
        first, last = _period(wh, start, end)
        frame = A.unusual(wh, first, last, min_points=min_points, kind=kind, flagged_only=not show_all)
    lang = settings().lang
    _show(
        frame,
        {
            "market": "market",
            "model": "model",
            "share_market": "share_market",
            "share_overall": "share_overall",
            "points": "points",
            "ratio": "ratio",
            "ratio_other_markets": "ratio_other",
            "market_units": "market_units",
            "small_market": "small_market",
        },
        t("market.title.unusual", lang, start=f"{first:%Y-%m}", end=f"{last:%Y-%m}"),
        {
            "share_market": ".1f",
            "share_overall": ".1f",
            "points": "+.1f",
            "ratio": ".2f",
            "ratio_other_markets": ".2f",
            "market_units": ",d",
        },
    )
    if len(frame) and frame["small_market"].any():
        small = frame[frame["small_market"]].drop_duplicates("market")
        for row in small.itertuples():
            err_console.print(f"{row.market}: " + t("market.warning.small_market", lang, units=float(row.market_units)))
    _write(frame, output)


def compare(
    top_n: Annotated[int, typer.Option("--top", help="How many models (the best sellers overall)")] = 15,
    start: Start = None,
    end: End = None,
    kind: Kind = None,
    output: Output = None,
) -> None:
    from carsight.market import analytics as A

    with warehouse(read_only=True) as wh:
        first, last = _period(wh, start, end)
        frame = A.matrix(wh, first, last, top=top_n, kind=kind)
    wide = frame.pivot_table(index="market", columns="model", values="share", fill_value=0.0)
    wide = wide[frame.groupby("model")["units"].sum().sort_values(ascending=False).index]
    from rich.table import Table as RichTable

    table = RichTable(title=t("market.title.compare", settings().lang))
    table.add_column(t("market.column.market", settings().lang))
    for col in wide.columns:
        table.add_column(str(col), justify="right")
    for name, row in wide.iterrows():
        table.add_row(str(name), *[f"{v:.1f}" for v in row])
    console.print(table)
    _write(frame, output)


def trend(
    brand: Annotated[str | None, typer.Option("--brand")] = None,
    model: Annotated[str | None, typer.Option("--model")] = None,
    market: Annotated[str | None, typer.Option("--market")] = None,
    kind: Kind = None,
    output: Output = None,
) -> None:
    from carsight.market import analytics as A

    with warehouse(read_only=True) as wh:
        series = A.monthly(wh, brand=brand, model=model, market=market, kind=kind)
    decomposition, indices, notes = A.trend(series)
    lang = settings().lang
    label = "/".join(v for v in (brand, model, market, kind) if v) or "Total"
    shown = decomposition.tail(24).assign(month=lambda d: d["ds"].dt.strftime("%Y-%m"))
    _show(shown, {"month": "month", "y": "units", "trend": "trend"}, t("market.title.trend", lang, series=label),
          {"y": ",.0f", "trend": ",.0f"})  # fmt: skip
    _show(
        indices,
        {"month_of_year": "month", "seasonal_index": "seasonal_index"},
        "",
        {"month_of_year": "d", "seasonal_index": ".3f"},
    )
    for key, values in notes:
        err_console.print(t(f"market.warning.{key}", lang, **values))
    _write(decomposition, output)


def forecast(
    input: Annotated[
        Path, typer.Option("--input", "-i", help="CSV/XLSX/Parquet: long (id, date, value) or wide by month")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the forecasts (CSV)")],
    horizon: Annotated[int, typer.Option("--horizon", "-h", help="Months to forecast")] = 18,
    id_col: Annotated[str | None, typer.Option("--id-col", help="Series id column")] = None,
    date_col: Annotated[str | None, typer.Option("--date-col", help="Month column")] = None,
    value_col: Annotated[str | None, typer.Option("--value-col", help="Value column")] = None,
    levels: Annotated[str, typer.Option("--levels", help="Interval levels in percent")] = "80,95",
    windows: Annotated[int, typer.Option("--backtest-windows", help="Rolling-origin backtest windows")] = 3,
    hierarchy: Annotated[
        str | None,
        typer.Option(
            "--hierarchy", help="Columns from top to bottom, e.g. brand/model: totals are forecast too, coherently"
        ),
    ] = None,
    models: Annotated[str, typer.Option("--models", help="Candidate set: fast, standard or full")] = "standard",
    select: Annotated[
        str,
        typer.Option(
            "--select",
            help="auto: the scheme that backtests best; or force combination (ETS+Theta+CES), pooled or series",
        ),
    ] = "auto",
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes (-1: all cores)")] = -1,
    season_group: Annotated[
        str | None,
        typer.Option(
            "--season-group", help="A --hierarchy column whose season short series borrow (default: all series)"
        ),
    ] = None,
    fill: Annotated[str, typer.Option("--fill", help="Missing months: zero (sales) or interpolate (levels)")] = "zero",
    report: Annotated[
        bool, typer.Option("--report", help="Print backtest accuracy beside seasonal naive and Prophet")
    ] = False,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="Events file (name, start, end, kind: launch/incentive/tax/shock/other; optional market, "
            "model, brand): effects learnt from past occurrences, applied to coming ones",
        ),
    ] = None,
    year: Annotated[int | None, typer.Option("--year", help="Year of a wide file's month columns")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet")] = None,
) -> None:
    from carsight.market.events import SCOPE, check_events, read_events
    from carsight.market.forecast import Forecaster
    from carsight.market.hierarchy import aggregate, reconcile, season_groups
    from carsight.market.series import ID, read_long_file

    try:
        level_list = tuple(int(x) for x in levels.split(",") if x.strip())
    except ValueError:
        raise InputError(
            f"--levels '{levels}' is not a list of whole percentages", column="--levels", expected="e.g. 80,95"
        ) from None
    keys = [k.strip() for k in hierarchy.split("/")] if hierarchy else None
    if season_group and season_group not in (keys or []):
        raise InputError(
            f"--season-group '{season_group}' is not a --hierarchy column",
            column="--season-group",
            expected=f"one of {', '.join(keys)}" if keys else "use it with --hierarchy, e.g. --hierarchy market/model",
        )
    frame = read_long_file(
        input,
        id_col=id_col,
        date_col=date_col,
        value_col=value_col,
        encoding=encoding,
        sheet=sheet,
        year=year,
        keys=keys,
    )
    if frame.groupby(ID).size().max() < 3:
        raise InputError(
            "every series has fewer than 3 months", file=input.name, expected="at least 3 months per series"
        )
    S, groups, meta = None, None, None
    if keys:
        groupings = [("total", [])] + [("/".join(keys[: i + 1]), keys[: i + 1]) for i in range(len(keys) - 1)]
        frame, S, meta = aggregate(frame, keys, groupings)
        groups = season_groups(meta, season_group) if season_group else None
    elif id_col in SCOPE:  # a file of one model (or market) per series: the id is that scope
        meta = frame[[ID]].drop_duplicates().assign(**{id_col: lambda d: d[ID]})
    checked = None
    if events is not None:
        checked = check_events(read_events(events, encoding=encoding), meta, file=events.name)
    lang = settings().lang
    forecaster = Forecaster(
        horizon=horizon, levels=level_list, n_windows=windows, models=models, select=select, fill=fill, n_jobs=jobs
    )
    with progress() as bar:
        task = bar.add_task("forecast", total=None)

        def step(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        forecaster.fit(frame, progress=step, season_groups=groups, events=checked, keys=meta)
    result = forecaster.predict()
    method = None
    if S is not None:
        result, method = reconcile(result, S, forecaster.residuals_, levels=level_list)
    cols = [ID, "ds", "model_name", "yhat"] + [f"yhat_{s}_{lv}" for lv in level_list for s in ("lo", "hi")]
    out = result[cols].copy()
    out["ds"] = out["ds"].dt.strftime("%Y-%m-%d")
    output.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(output, index=False, encoding="utf-8")
    choice = forecaster.choice(lang)
    console.print(t("market.title.written", lang, n=len(choice), h=horizon, path=output))
    if method:
        console.print(f"reconciliation: {method}")
    _selection(forecaster, lang)
    if checked is not None:
        _events(forecaster, lang)
    for row in choice[choice["warning"] != ""].itertuples():
        err_console.print(f"[yellow]{getattr(row, ID)}[/]: {row.warning}", highlight=False)
    if report:
        _report(forecaster, windows, lang)


def _selection(forecaster, lang: str) -> None:
    """One line per class: the scheme the backtest chose and by how much, against the combination."""
    sel = forecaster.selection()
    for cls, g in sel.groupby("cls", sort=True):
        chosen = g[g["chosen"]].iloc[0]
        base = g[g["scheme"] == "combination"].iloc[0]
        others = ", ".join(
            f"{t(f'market.scheme.{r.scheme}', lang)} {r.score:.3f}" for r in g[~g["chosen"]].itertuples()
        )
        console.print(
            t(
                "market.title.selection",
                lang,
                cls=t(f"market.class.{cls}", lang),
                scheme=t(f"market.scheme.{chosen.scheme}", lang),
                metric=chosen.metric.upper().replace("_", " "),
                score=chosen.score,
                pct=chosen.vs_combination_pct if chosen.scheme != "combination" else 0.0,
                others=others or "—",
                n=int(base.n_series),
                windows=int(base.n_windows),
            ),
            highlight=False,
        )


def _events(forecaster, lang: str) -> None:
    """The events report: each event's learnt (or applied) effect with its 95% interval."""
    from rich.table import Table as RichTable

    table = forecaster.events()
    if table.empty or not (table["series_covered"] > 0).any():
        err_console.print(t("market.events.none_in_data", lang))
        return
    out = RichTable(title=t("market.events.title", lang))
    for key in ("name", "kind", "months", "scope", "effect", "interval", "status", "series"):
        out.add_column(t(f"market.events.{key}", lang), justify="right" if key in ("effect", "series") else "left")
    for row in table[table["series_covered"] > 0].itertuples(index=False):
        scope = ", ".join(str(getattr(row, c)) for c in ("market", "model", "brand") if getattr(row, c) != "(all)")
        months = row.start if row.start == row.end else f"{row.start}–{row.end}"
        known = row.effect_pct == row.effect_pct
        status = t(f"market.events.{row.status.replace(' ', '_')}", lang)
        if row.status == "applied":
            status += f" ({t(f'market.events.source_{row.source}', lang)})"
        out.add_row(
            row.name,
            row.kind,
            months,
            scope or "—",
            f"{row.effect_pct:+.1f}" if known else "—",
            f"{row.lo_pct:+.1f} … {row.hi_pct:+.1f}" if known else "—",
            status,
            f"{row.series_covered:,}",
        )
    console.print(out)
    shocks = int(forecaster.residuals_["weight"].eq(0).sum()) if "weight" in forecaster.residuals_ else 0
    if shocks:
        console.print(t("market.events.shock_weight", lang, n=shocks))


def _report(forecaster, windows: int, lang: str) -> None:
    """Per series: the chosen method's backtest MAPE/sMAPE/MASE beside seasonal naive and Prophet."""
    import pandas as pd
    from rich.table import Table as RichTable

    from carsight.market.backtest import prophet_backtest
    from carsight.market.series import ID

    bt = forecaster.backtest()
    choice = forecaster.choice_.set_index(ID)
    prophet = prophet_backtest(forecaster)
    table = RichTable(title=t("market.title.report", lang, windows=windows))
    table.add_column("series")
    table.add_column(t("market.column.chosen", lang))
    for name in ("chosen", "SeasonalNaive", "Prophet"):
        for metric in ("MAPE", "sMAPE", "MASE"):
            table.add_column(f"{name}\n{metric}", justify="right")
    means = bt.groupby([ID, "model_name"])[["mape", "smape", "mase"]].mean()
    pmeans = prophet.groupby(ID)[["mape", "smape", "mase"]].mean() if len(prophet) else pd.DataFrame()

    def cells(values) -> list[str]:
        if values is None:
            return ["—"] * 3
        return ["—" if v != v else f"{v:.1f}" if i < 2 else f"{v:.2f}" for i, v in enumerate(values)]

    for uid, row in choice.iterrows():
        chosen = means.loc[(uid, row.model_name)].to_numpy() if (uid, row.model_name) in means.index else None
        base = means.loc[(uid, row.baseline)].to_numpy() if (uid, row.baseline) in means.index else None
        prop = pmeans.loc[uid].to_numpy() if uid in pmeans.index else None
        table.add_row(str(uid), row.model_name, *cells(chosen), *cells(base), *cells(prop))
    console.print(table)
