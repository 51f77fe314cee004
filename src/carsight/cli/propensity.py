"""Propensity and lifetime-value commands: ``carsight propensity train|score`` on any table, and
``carsight clv`` on a transaction log."""

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
    app.command("clv", help="Customer lifetime value from a transaction log (BG/NBD + Gamma-Gamma).")(clv)


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
        str | None, typer.Option("--time-col", help="Date column: the latest rows become the holdout")
    ] = None,
    margin: Annotated[
        float, typer.Option("--margin", help="Profit from one positive (for the best grade)")
    ] = 1_500_000.0,
    contact_cost: Annotated[float, typer.Option("--contact-cost", help="Cost of contacting one customer")] = 20_000.0,
    encoding: Annotated[str | None, typer.Option("--encoding", help="File encoding (detected by default)")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet name")] = None,
) -> None:
    from carsight.customers.propensity import train_on_table
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
            },
            metrics={
                "holdout": ev.metrics.to_dict(orient="records"),
                "best_grade": ev.best_grade,
                "split": report.split.description,
            },
            features=model.features_,
            data=frame,
            extra={
                "source_file": str(table),
                "dropped_columns": report.dropped_columns,
                "id_columns": [c for c, why in report.dropped_columns.items() if why.startswith("id-like")],
                "calibration": model.calibration_method_,
                "notes": report.notes,
                "margin": margin,
                "contact_cost": contact_cost,
            },
        )
        ev.metrics.to_csv(Path(model_dir) / "holdout_metrics.csv", index=False)
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
    from carsight.customers.propensity import score_table
    from carsight.registry import load_model

    lang = settings().lang
    model, meta = load_model(model_dir, kind="propensity")
    with progress() as bar:
        task = bar.add_task("scoring", total=2)
        frame = _read(table, encoding, sheet)
        bar.update(task, advance=1)
        ids = id_col or [c for c in meta.extra.get("id_columns", []) if c in frame.columns]
        scores, info = score_table(model, frame, lang=lang, file=str(table), id_cols=ids)
        output.parent.mkdir(parents=True, exist_ok=True)
        # utf-8-sig so that Excel opens Korean reasons correctly.
        scores.to_csv(output, index=False, encoding="utf-8-sig")
        bar.update(task, advance=1)
    if info["ignored_columns"]:
        err_console.print(
            t("value.cli.ignored", lang, columns=", ".join(map(str, info["ignored_columns"]))), highlight=False
        )
    drift = info["drift"]
    if drift is not None and drift.shifted:
        err_console.print(f"[yellow]{t('value.cli.drift', lang, columns=', '.join(drift.shifted))}[/]", highlight=False)
    console.print(t("value.cli.scored", lang, rows=len(scores), path=str(output)))


def clv(
    transactions: Annotated[Path, typer.Option("--transactions", help="Transaction log: customer, date, amount")],
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Purchases before this date are used (YYYY-MM-DD)")
    ],
    horizon_days: Annotated[int, typer.Option("--horizon-days", help="Days ahead to predict")],
    output: Annotated[Path, typer.Option("--output", help="CSV to write")],
    customer_col: Annotated[str, typer.Option("--customer-col")] = "customer_id",
    date_col: Annotated[str, typer.Option("--date-col")] = "date",
    amount_col: Annotated[str, typer.Option("--amount-col")] = "amount",
    hurdle: Annotated[
        bool, typer.Option("--hurdle/--no-hurdle", help="Add the LightGBM hurdle model's columns")
    ] = False,
    encoding: Annotated[str | None, typer.Option("--encoding")] = None,
) -> None:
    import pandas as pd

    from carsight.customers.clv import CLV_COLUMNS, HurdleCLV, clv_bgnbd
    from carsight.ingest import clean_number, parse_dates

    lang = settings().lang
    if horizon_days <= 0:
        raise InputError("must be positive", column="--horizon-days", expected="a number of days > 0")
    end = parse_dates(pd.Series([calibration_end])).iloc[0]
    if pd.isna(end):
        raise InputError(f"'{calibration_end}' is not a date", column="--calibration-end", expected="YYYY-MM-DD")
    with progress() as bar:
        task = bar.add_task("reading", total=3)
        raw = _read(transactions, encoding, None)
        for name in (customer_col, date_col, amount_col):
            if name not in raw.columns:
                raise InputError(
                    "column not found",
                    file=str(transactions),
                    column=name,
                    expected="one of: " + ", ".join(map(str, raw.columns)),
                )
        tx = pd.DataFrame(
            {
                "customer_id": raw[customer_col],
                "date": parse_dates(raw[date_col]),
                "amount": clean_number(raw[amount_col], dash_is_zero=False),
            }
        )
        for name, source in (("date", date_col), ("amount", amount_col)):
            bad = tx[name].isna() & raw[source].notna()
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise InputError(
                    f"cannot read '{raw[source].iloc[row]}' ({int(bad.sum())} such rows)",
                    file=str(transactions),
                    row=row + 1,
                    column=source,
                    expected="a date" if name == "date" else "a number",
                )
        tx = tx.dropna(subset=["customer_id", "date", "amount"])
        bar.update(task, advance=1, description="BG/NBD + Gamma-Gamma")
        table, info = clv_bgnbd(tx, end, horizon_days)
        bar.update(task, advance=1, description="hurdle model" if hurdle else "writing")
        if hurdle:
            model = HurdleCLV(horizon_days=horizon_days).fit(tx, end)
            table = table.merge(model.predict(tx, end), on="customer_id", how="left")
        extra = [c for c in table.columns if c not in CLV_COLUMNS]
        output.parent.mkdir(parents=True, exist_ok=True)
        table[CLV_COLUMNS + extra].to_csv(output, index=False, encoding="utf-8-sig")
        bar.update(task, advance=1)
    console.print(t("value.cli.clv_written", lang, rows=len(table), path=str(output)))
    console.print("BG/NBD: " + json.dumps({k: round(v, 4) for k, v in info["bgnbd"].items()}))
    if "gamma_gamma" in info:
        console.print("Gamma-Gamma: " + json.dumps({k: round(v, 4) for k, v in info["gamma_gamma"].items()}))
    for note in info["notes"]:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False)
