"""Propensity and lifetime-value commands.

``carsight propensity train|score`` on any table, and ``carsight clv`` on a transaction log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from carsight.cli.common import console, err_console, progress, settings
from carsight.errors import InputError
from carsight.i18n import t


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Propensity models on any table: train with a baseline, score with reasons.", no_args_is_help=True
    )
    group.command(
        "train", help="Train a propensity model on a CSV/Excel table and report holdout metrics and deciles."
    )(train)
    group.command("score", help="Score a table with a saved propensity model: score, decile, grade, top-3 reasons.")(
        score
    )
    app.add_typer(group, name="propensity")
    app.command(
        "clv",
        help=(
            "Customer lifetime value from a transaction log (customer, date, amount): BG/NBD + Gamma-Gamma, "
            "a LightGBM hurdle model and the past purchase rate, each backtested on this log; the default "
            "columns come from the best."
        ),
    )(clv)


def _read(path: Path, encoding: str | None, sheet: str | None):
    from carsight.ingest import read_raw

    if not Path(path).exists():
        raise InputError("file not found", file=str(path))
    frame = read_raw(path, encoding=encoding, sheet=sheet)
    if frame.empty:
        raise InputError("the table has no data rows", file=str(path))
    return frame


def _fmt(value, digits: int = 3) -> str:
    if value is None or value != value:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def train(
    table: Annotated[Path, typer.Option("--table", help="CSV, Excel or Parquet file, one row per customer/case")],
    target: Annotated[str, typer.Option("--target", help="The yes/no column to predict")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="Where to save the model")],
    positive: Annotated[str | None, typer.Option("--positive", help="The target value that counts as 'yes'")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Column to leave out (repeatable)")] = None,
    time_col: Annotated[
        str | None,
        typer.Option("--time-col", help="Date column that orders the rows: later rows validate and hold out"),
    ] = None,
    ordered: Annotated[
        bool,
        typer.Option("--ordered", help="The rows are in time order (no date column): split by position"),
    ] = False,
    margin: Annotated[
        float, typer.Option("--margin", help="Profit from one positive (for the best grade)")
    ] = 1_500_000.0,
    contact_cost: Annotated[float, typer.Option("--contact-cost", help="Cost of contacting one customer")] = 20_000.0,
    encoding: Annotated[str | None, typer.Option("--encoding", help="File encoding (detected by default)")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet name")] = None,
) -> None:
    from carsight.customers.propensity_table import train_on_table
    from carsight.registry import save_model

    lang = settings().lang
    with progress() as bar:
        task = bar.add_task("reading", total=3)
        frame = _read(table, encoding, sheet)
        bar.update(task, advance=1, description="training")
        report = train_on_table(
            frame,
            target,
            positive=positive,
            exclude=exclude or [],
            time_col=time_col,
            ordered=ordered,
            margin=margin,
            contact_cost=contact_cost,
            file=str(table),
        )
        bar.update(task, advance=1, description="saving")
        model, ev = report.model, report.evaluation
        meta = save_model(
            model_dir,
            model,
            kind="propensity",
            params={
                **model.get_params(),
                "target": target,
                "positive": positive,
                "exclude": exclude or [],
                "time_col": time_col,
                "ordered": ordered,
            },
            metrics={
                "holdout": ev.metrics.to_dict(orient="records"),
                "late_slice": report.validation.to_dict(orient="records"),
                "champion": model.champion_,
                "drift_model": model.drift_model_,
                "best_grade": ev.best_grade,
                "split": report.split.description,
            },
            features=model.features_,
            data=frame,
            extra={
                "source_file": str(table),
                "dropped_columns": report.dropped_columns,
                "id_columns": [c for c, why in report.dropped_columns.items() if why.startswith("id-like")],
                "calibration": model.calibration_methods_,
                "notes": report.notes,
                "margin": margin,
                "contact_cost": contact_cost,
            },
        )
        ev.metrics.to_csv(Path(model_dir) / "holdout_metrics.csv", index=False)
        report.validation.to_csv(Path(model_dir) / "late_slice_candidates.csv", index=False)
        ev.deciles.to_csv(Path(model_dir) / "holdout_deciles.csv", index=False)
        ev.calibration.to_csv(Path(model_dir) / "holdout_calibration.csv", index=False)
        report.importance.to_csv(Path(model_dir) / "importance.csv", index=False)
        bar.update(task, advance=1)
    _print_report(report, lang, margin, contact_cost)
    console.print(t("value.cli.saved", lang, path=str(model_dir), version=meta.model_version))


def _print_report(report, lang: str, margin: float, contact_cost: float) -> None:
    ev = report.evaluation
    console.print(t("value.cli.split", lang, split=report.split.description))
    if report.dropped_columns:
        console.print(
            t("value.cli.dropped", lang, columns=", ".join(f"{k} ({v})" for k, v in report.dropped_columns.items()))
        )
    metrics = RichTable(title=t("value.cli.metrics", lang))
    for col in ("model", "auroc", "95% CI", "pr_auc", "brier", "ece", "n", "positives"):
        metrics.add_column(col, justify="left" if col == "model" else "right")
    for row in ev.metrics.itertuples():
        metrics.add_row(
            row.model,
            _fmt(row.auroc),
            f"{_fmt(row.auroc_lo)}–{_fmt(row.auroc_hi)}",
            _fmt(row.pr_auc),
            _fmt(row.brier),
            _fmt(row.ece),
            _fmt(int(row.n)),
            _fmt(int(row.positives)),
        )
    console.print(metrics)
    late = RichTable(title=t("value.cli.candidates", lang))
    for col in ("model", "auroc", "top_decile_lift", "n", "positives"):
        late.add_column(col, justify="left" if col == "model" else "right")
    for row in report.validation.itertuples():
        late.add_row(
            row.model, _fmt(row.auroc), _fmt(row.top_decile_lift, 2), _fmt(int(row.n)), _fmt(int(row.positives))
        )
    console.print(late)
    console.print(t("value.cli.champion", lang, champion=report.model.champion_, drift_model=report.model.drift_model_))
    deciles = RichTable(title=t("value.cli.deciles", lang))
    for col in ("decile", "customers", "positives", "rate", "lift", "cum_gain"):
        deciles.add_column(col, justify="right")
    for row in ev.deciles.itertuples():
        deciles.add_row(
            str(row.decile),
            _fmt(int(row.customers)),
            _fmt(int(row.positives)),
            _fmt(row.rate),
            _fmt(row.lift, 2),
            _fmt(row.cum_gain),
        )
    console.print(deciles)
    if ev.best_grade:
        console.print(t("value.cli.best_grade", lang, grade=ev.best_grade, margin=margin, cost=contact_cost))
    else:
        console.print(t("value.cli.no_grade_pays", lang))
    for note in report.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)


def score(
    model_dir: Annotated[Path, typer.Option("--model-dir", help="A model saved by `propensity train`")],
    table: Annotated[Path, typer.Option("--table", help="The table to score (same columns as for training)")],
    output: Annotated[Path, typer.Option("--output", help="CSV to write")],
    id_col: Annotated[
        list[str] | None,
        typer.Option("--id-col", help="Column to copy into the output (default: the ID columns seen in training)"),
    ] = None,
    encoding: Annotated[str | None, typer.Option("--encoding")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet")] = None,
) -> None:
    from carsight.customers.propensity import MIN_ROWS_FOR_DRIFT
    from carsight.customers.propensity_table import score_table
    from carsight.registry import load_model

    lang = settings().lang
    model, meta = load_model(model_dir, kind="propensity")
    with progress() as bar:
        task = bar.add_task("scoring", total=2)
        frame = _read(table, encoding, sheet)
        bar.update(task, advance=1)
        ids = id_col or [c for c in meta.extra.get("id_columns", []) if c in frame.columns]
        scores, choice, ignored = score_table(model, frame, lang=lang, file=str(table), id_cols=ids)
        output.parent.mkdir(parents=True, exist_ok=True)
        # utf-8-sig so that Excel opens Korean reasons correctly.
        scores.to_csv(output, index=False, encoding="utf-8-sig")
        bar.update(task, advance=1)
    if ignored:
        err_console.print(t("value.cli.ignored", lang, columns=", ".join(map(str, ignored))), highlight=False)
    check = choice.drift
    if check is not None:
        err_console.print(
            t(
                "value.cli.drift_check",
                lang,
                auroc=check.adversarial_auroc,
                threshold=check.threshold,
                late=model.late_slice_shift_,
                columns=", ".join(check.shifted) or "–",
            ),
            highlight=False,
        )
    if choice.status == "unchecked":
        message = t("value.cli.model_unchecked", lang, rows=MIN_ROWS_FOR_DRIFT, model=choice.model)
    elif choice.status == "stable":
        message = t("value.cli.model_stable", lang, model=choice.model)
    elif choice.model == model.champion_:
        message = t("value.cli.model_shifted_same", lang, model=choice.model)
    else:
        message = t("value.cli.model_shifted", lang, model=choice.model, champion=model.champion_)
    (err_console if choice.status == "shifted" else console).print(
        f"[yellow]{message}[/]" if choice.status == "shifted" else message, highlight=False
    )
    console.print(t("value.cli.scored", lang, rows=len(scores), path=str(output)))


def clv(
    transactions: Annotated[
        Path,
        typer.Option("--transactions", help="Transaction log: one row per purchase with customer, date and amount"),
    ],
    calibration_end: Annotated[
        str,
        typer.Option(
            "--calibration-end",
            help="Last day of history used, inclusive: purchases on this day count (YYYY-MM-DD)",
        ),
    ],
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Days ahead to predict, from the day after the calibration end")
    ],
    output: Annotated[Path, typer.Option("--output", help="CSV to write (the backtest goes beside it)")],
    customer_col: Annotated[
        str | None, typer.Option("--customer-col", help="Header of the customer column (default: recognised)")
    ] = None,
    date_col: Annotated[
        str | None, typer.Option("--date-col", help="Header of the date column (default: recognised)")
    ] = None,
    amount_col: Annotated[
        str | None, typer.Option("--amount-col", help="Header of the amount column (default: recognised)")
    ] = None,
    encoding: Annotated[str | None, typer.Option("--encoding")] = None,
) -> None:
    import pandas as pd

    from carsight.customers.clv_select import customer_value
    from carsight.ingest import parse_dates, read_table

    lang = settings().lang
    if horizon_days <= 0:
        raise InputError("must be positive", column="--horizon-days", expected="a number of days > 0")
    end = parse_dates(pd.Series([calibration_end])).iloc[0]
    if pd.isna(end):
        raise InputError(f"'{calibration_end}' is not a date", column="--calibration-end", expected="YYYY-MM-DD")
    with progress() as bar:
        task = bar.add_task("reading", total=3)
        # Read like `carsight ingest purchases`: headers recognised (customer, 고객번호, date, 구매일, …),
        # bad rows set aside with their reason, the rest used; a log needs no purchase id or model.
        mapping = {
            src: dst
            for src, dst in ((customer_col, "customer_id"), (date_col, "purchase_date"), (amount_col, "amount"))
            if src
        }
        result_in = read_table(
            transactions, "purchases", mapping=mapping or None, encoding=encoding, relaxed=["purchase_id", "model"]
        )
        if len(result_in.rejected):
            first = result_in.rejected.iloc[0]
            err_console.print(
                f"{result_in.file}: {result_in.rejected_rows} row(s) set aside, e.g. row {first['row_number']} "
                f"column {first['column_name']}: {first['reason']}",
                highlight=False,
                soft_wrap=True,
            )
        tx = result_in.frame.rename(columns={"purchase_date": "date"})[["customer_id", "date", "amount"]]
        bar.update(task, advance=1, description="backtest and models")
        result = customer_value(tx, end, horizon_days)
        bar.update(task, advance=1, description="writing")
        output.parent.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(output, index=False, encoding="utf-8-sig")
        backtest_path = output.with_name(f"{output.stem}_backtest.csv")
        result.backtest.to_csv(backtest_path, index=False, encoding="utf-8-sig")
        bar.update(task, advance=1)
    console.print(t("value.cli.clv_written", lang, rows=len(result.table), path=str(output)))
    bt = RichTable(title=t("value.cli.clv_backtest", lang, description=result.backtest_description))
    for col in ("model", "auroc", "mae_purchases", "mae_value", "buyers", "chosen_for", "status"):
        bt.add_column(col, justify="left" if col in ("model", "chosen_for", "status") else "right")
    for row in result.backtest.itertuples():
        bt.add_row(
            row.model,
            _fmt(row.auroc),
            _fmt(row.mae_purchases),
            _fmt(row.mae_value, 2),
            _fmt(int(row.buyers)) if row.buyers == row.buyers else "–",
            row.chosen_for or "–",
            row.status,
        )
    console.print(bt)
    chosen = result.chosen
    console.print(
        t(
            "value.cli.clv_chosen",
            lang,
            p_any=chosen["p_any_purchase"],
            purchases=chosen["expected_purchases"],
            value=chosen["expected_value"],
        )
    )
    console.print(t("value.cli.clv_backtest_saved", lang, path=str(backtest_path)))
    for name, params in result.params.items():
        if params:
            console.print(f"{name}: " + json.dumps(params, default=_json_number, ensure_ascii=False))
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)


def _json_number(value):
    return round(float(value), 4)
