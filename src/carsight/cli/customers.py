"""Customer commands that work on files, no warehouse needed: ``rfm``, ``segment fit|assign`` and ``recommend``.

Files are read through ``carsight.ingest.read_table``, so cleaning and ``--map`` work exactly as in
``carsight ingest``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, parse_pairs, settings

MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", "-m", help="FILE_HEADER=column for any of the input files (repeatable)"),
]


def register(app: typer.Typer) -> None:
    app.command("rfm", help="RFM scores, grades and segments per customer from a transactions file.")(rfm)
    segment = typer.Typer(help="Customer-type segments: fit on files, assign a new customer.", no_args_is_help=True)
    segment.command("fit", help="Fit customer-type segments on a customers file (and transactions).")(segment_fit)
    segment.command("assign", help="Segment of a new customer from the fields a dealer types in (JSON).")(
        segment_assign
    )
    app.add_typer(segment, name="segment")
    app.command("recommend", help="Top-k vehicle models per customer from transactions (learned, with reasons).")(
        recommend
    )


def _guard(func: Callable[[], None]) -> None:
    """One clear line and exit code 2 for a user-facing error, whatever the entry point."""
    from carsight.errors import CarsightError

    try:
        func()
    except CarsightError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _read(path: Path | None, table: str, mapping: dict[str, str], used: set[str], relaxed: list[str] | None = None):
    """Read one input file into ``table``'s columns; ``--map`` pairs apply to files with that header.

    ``relaxed``: columns the schema requires that this command does not need.
    """
    if path is None:
        return None
    from carsight.ingest import read_table
    from carsight.ingest.read import open_source

    headers = set(open_source(path).headers)
    mine = {k: v for k, v in mapping.items() if k in headers}
    used.update(mine)
    result = read_table(path, table, mapping=mine or None, relaxed=relaxed)
    if len(result.rejected):
        err_console.print(f"{path.name}: {len(result.rejected)} row(s) rejected, e.g. {_first_reason(result.rejected)}")
    return result.frame


def _first_reason(rejected) -> str:
    row = rejected.iloc[0]
    return f"row {row['row_number']} column {row['column_name']}: {row['reason']}"


def _check_map_used(mapping: dict[str, str], used: set[str]) -> None:
    from carsight.errors import InputError

    unused = [k for k in mapping if k not in used]
    if unused:
        raise InputError(
            f"--map {unused[0]}={mapping[unused[0]]}: no input file has the header '{unused[0]}'", column="--map"
        )


def _parse_date(text: str | None):
    if text is None:
        return None
    import datetime as dt

    from carsight.errors import InputError

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a date", column="--as-of", expected="YYYY-MM-DD") from None


def _write_csv(frame, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    # utf-8 with BOM: Excel, where these files end up, then shows Korean correctly
    frame.to_csv(output, index=False, encoding="utf-8-sig")


# ---- rfm -------------------------------------------------------------------------------------
def rfm(
    transactions: Annotated[Path, typer.Option("--transactions", "-t", help="Purchases file (CSV/xlsx/parquet)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: day after the last purchase)")
    ] = None,
    monetary: Annotated[str, typer.Option("--monetary", help="total or average: what the M score ranks")] = "total",
    very_strong: Annotated[float, typer.Option("--very-strong", help="Lowest score graded Very Strong")] = 90.0,
    strong: Annotated[float, typer.Option("--strong", help="Lowest score graded Strong")] = 70.0,
    normal: Annotated[float, typer.Option("--normal", help="Lowest score graded Normal")] = 40.0,
    map_: MapOption = None,
) -> None:
    def work() -> None:
        import datetime as dt

        import ibis

        from carsight.customers.rfm import GradeCutoffs, rfm_table
        from carsight.i18n import t

        mapping = parse_pairs(map_, "--map")
        used: set[str] = set()
        # A plain transaction log (customer, date, amount) is enough for RFM.
        frame = _read(transactions, "purchases", mapping, used, relaxed=["purchase_id", "model"])
        _check_map_used(mapping, used)
        date = _parse_date(as_of) or (frame["purchase_date"].max().date() + dt.timedelta(days=1))
        memtable = ibis.memtable(frame[["customer_id", "purchase_date", "amount"]])
        cutoffs = GradeCutoffs(very_strong=very_strong, strong=strong, normal=normal)
        out = rfm_table(memtable, date, monetary=monetary, cutoffs=cutoffs).to_pandas()
        out = out.sort_values(["rfm_score", "customer_id"], ascending=[False, True])
        _write_csv(out, output)
        lang = settings().lang
        console.print(t("rfm.cli.written", lang, n=len(out), path=output, as_of=date))
        for group, n in out["group"].value_counts().items():
            console.print(f"  {t(f'rfm.group.{group}', lang)}: {n}")

    _guard(work)


# ---- segment ---------------------------------------------------------------------------------
def segment_fit(
    customers: Annotated[Path, typer.Option("--customers", "-c", help="Customers file")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="Where to save the segmenter")],
    transactions: Annotated[Path | None, typer.Option("--transactions", "-t", help="Purchases file")] = None,
    vehicles: Annotated[Path | None, typer.Option("--vehicles", help="Line-up file (body type, powertrain)")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date (default: day after the last purchase)")
    ] = None,
    k_min: Annotated[int, typer.Option("--k-min", help="Fewest segments to try")] = 2,
    k_max: Annotated[int, typer.Option("--k-max", help="Most segments to try")] = 10,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write each customer's segment to this CSV")
    ] = None,
    map_: MapOption = None,
) -> None:
    def work() -> None:
        import ibis

        from carsight.customers.segments import CustomerSegmenter
        from carsight.customers.segments_features import segment_frame
        from carsight.i18n import t
        from carsight.registry import load_model, save_model

        mapping = parse_pairs(map_, "--map")
        used: set[str] = set()
        cust = _read(customers, "customers", mapping, used)
        tx = _read(transactions, "purchases", mapping, used)
        veh = _read(vehicles, "vehicles", mapping, used)
        _check_map_used(mapping, used)
        frame = segment_frame(
            ibis.memtable(cust),
            ibis.memtable(tx) if tx is not None else None,
            ibis.memtable(veh) if veh is not None else None,
            as_of=_parse_date(as_of),
        )
        previous = None
        if (model_dir / "meta.json").is_file():
            previous, _ = load_model(model_dir, kind="segmenter")
        with err_console.status("fitting segments…"):
            model = CustomerSegmenter(k_range=(k_min, k_max)).fit(frame, reference=previous, vehicles=veh)
        chosen = model.k_curve_[model.k_curve_["chosen"]].iloc[0]
        save_model(
            model_dir,
            model,
            kind="segmenter",
            params=model.get_params(),
            metrics={"k": int(model.k_), "silhouette": float(chosen["silhouette"]), "customers": len(frame)},
            features=list(model.feature_names_in_),
            data=frame.reset_index(),
            extra={"k_curve": model.k_curve_.to_dict(orient="records")},
        )
        if output is not None:
            _write_csv(model.assignments(frame), output)
        lang = settings().lang
        console.print(
            t(
                "segment.cli.fitted",
                lang,
                k=model.k_,
                path=model_dir,
                silhouette=float(chosen["silhouette"]),
                n=len(frame),
            )
        )
        _print_profiles(model.profiles_, lang)

    _guard(work)


def _print_profiles(profiles, lang: str) -> None:
    from rich.table import Table

    from carsight.i18n import t

    table = Table()
    for key in ("segment", "size", "value", "profile"):
        table.add_column(t(f"segment.cli.{key}", lang), justify="right" if key in ("size", "value") else "left")
    for row in profiles.itertuples():
        value = "" if row.value is None or row.value != row.value else f"{row.value:,.0f}"
        table.add_row(str(row.segment_id), f"{row.size:,}", value, getattr(row, f"profile_{lang}"))
    console.print(table)


def segment_assign(
    json_: Annotated[str, typer.Option("--json", help='Customer fields, e.g. \'{"age": 42, "body_type": "suv"}\'')],
    model_dir: Annotated[
        Path | None,
        typer.Option("--model-dir", help="Saved segmenter (default: the pipeline's, <model_dir>/segmenter)"),
    ] = None,
) -> None:
    def work() -> None:
        from carsight.customers.segments_desk import SEGMENT_FIELDS, assign_segment
        from carsight.errors import InputError
        from carsight.registry import load_model

        try:
            fields = json.loads(json_)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"--json is not valid JSON: {exc.msg}", column="--json", expected="{" + ", ".join(SEGMENT_FIELDS) + "}"
            ) from None
        path = model_dir or Path(settings().model_dir) / "segmenter"
        model, _ = load_model(path, kind="segmenter")
        result = assign_segment(model, fields, lang=settings().lang)
        console.print_json(json.dumps(result, ensure_ascii=False))

    _guard(work)


# ---- recommend -------------------------------------------------------------------------------
def recommend(
    transactions: Annotated[Path, typer.Option("--transactions", "-t", help="Purchases file")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV to write (customer_id, rank, model, score, reason)")
    ],
    customers: Annotated[Path | None, typer.Option("--customers", "-c", help="Customers file (profiles)")] = None,
    vehicles: Annotated[Path | None, typer.Option("--vehicles", help="Line-up file")] = None,
    leads: Annotated[Path | None, typer.Option("--leads", help="Leads file (test drives, inquiries)")] = None,
    k: Annotated[int, typer.Option("--k", help="Models per customer")] = 5,
    exclude_last: Annotated[
        bool, typer.Option("--exclude-last", help="Never recommend the model a customer bought last")
    ] = False,
    evaluate: Annotated[
        bool, typer.Option("--evaluate/--no-evaluate", help="Also report hit@3 against the baselines")
    ] = True,
    map_: MapOption = None,
) -> None:
    def work() -> None:
        import ibis
        import pandas as pd

        from carsight.customers.recommend import VehicleRecommender
        from carsight.customers.recommend_data import RecData
        from carsight.customers.recommend_eval import evaluate_recommenders, holdout_cutoff
        from carsight.customers.segments import CustomerSegmenter
        from carsight.customers.segments_features import segment_frame
        from carsight.errors import DataTooThinError, InputError
        from carsight.i18n import t

        if k < 1:
            raise InputError(f"--k {k} must be at least 1", column="--k", expected="a positive whole number")
        mapping = parse_pairs(map_, "--map")
        used: set[str] = set()
        tx = _read(transactions, "purchases", mapping, used)
        cust = _read(customers, "customers", mapping, used)
        veh = _read(vehicles, "vehicles", mapping, used)
        ld = _read(leads, "leads", mapping, used)
        _check_map_used(mapping, used)
        lang = settings().lang

        def segments(as_of, k_range=(2, 10)):
            frame = segment_frame(
                ibis.memtable(cust) if cust is not None else None,
                ibis.memtable(tx),
                ibis.memtable(veh) if veh is not None else None,
                as_of=as_of,
            )
            model = CustomerSegmenter(k_range=k_range).fit(frame)
            return pd.Series(model.predict(frame), index=frame.index), model.k_

        with err_console.status("learning recommendations…"):
            seg_now, k_seg = segments(None)
            data = RecData(purchases=tx, vehicles=veh, customers=cust, leads=ld, segments=seg_now)
            if evaluate:
                try:
                    cutoff = holdout_cutoff(data.purchases)
                    past, _ = segments(cutoff, (k_seg, k_seg))
                    table, _ = evaluate_recommenders(
                        RecData(purchases=tx, vehicles=veh, customers=cust, leads=ld, segments=past), cutoff=cutoff
                    )
                    for row in table.itertuples():
                        err_console.print(
                            f"  {row.method}: hit@3 {row.hit_at_3:.3f} · NDCG@5 {row.ndcg_at_5:.3f} (n={row.n})"
                        )
                except DataTooThinError as exc:
                    err_console.print(f"  evaluation skipped: {exc}")
            model = VehicleRecommender().fit(data)
            recs = model.recommend(data, k=k, exclude_last=exclude_last)
        if model.note_:
            err_console.print(model.note_)
        out = recs.rename(columns={f"reason_{lang}": "reason"})[["customer_id", "rank", "model", "score", "reason"]]
        _write_csv(out, output)
        console.print(t("recommend.cli.written", lang, n=out["customer_id"].nunique(), rows=len(out), path=output))

    _guard(work)
