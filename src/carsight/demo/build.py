"""Generating the demo business as files, and loading them.

``generate`` writes the files, ``load_demo`` loads them through the ordinary ingest path,
``build_demo`` does both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from carsight.demo import activity as A
from carsight.demo import config as C
from carsight.demo import dealers as D
from carsight.demo import files as F
from carsight.demo import market as M
from carsight.demo import vehicles as V
from carsight.demo.customers import static_customers
from carsight.demo.simulate import simulate
from carsight.warehouse import schema as S

# Load order: referenced tables first.
TABLE_ORDER = (
    S.VEHICLES.name,
    S.DEALERS.name,
    S.CUSTOMERS.name,
    S.PURCHASES.name,
    S.LEADS.name,
    S.SERVICE_VISITS.name,
    S.CONSULTATIONS.name,
    S.CAMPAIGNS.name,
    S.CAMPAIGN_CONTACTS.name,
    S.SALES_MONTHLY.name,
    S.EVENTS.name,
)
TRUTH = "truth"
# 2: shopping intent and per-customer mileage; 3: a recurring domestic incentive and an events file;
# 4: dealers, and a dealer_code on customers and their records (docs/demo-data.md)
GENERATOR_VERSION = 4

Progress = Callable[[str, int, int], None]


def block_seeds(seed: int, block: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent random streams of one block: profile, simulation, and file contents."""
    return tuple(np.random.default_rng(np.random.SeedSequence([seed, block, k])) for k in range(3))


def blocks(customers: int) -> list[tuple[int, int, int]]:
    """(block number, first customer, size) of each block."""
    out, start, number = [], 0, 0
    while start < customers:
        size = min(C.CHUNK_CUSTOMERS, customers - start)
        out.append((number, start, size))
        start += size
        number += 1
    return out


def _bad_purchase_rows(table: pa.Table) -> tuple[pa.Table, pd.DataFrame]:
    """Deliberately broken rows appended to the first purchases file.

    See docs/demo-data.md, "Planted bad rows": the quarantine has something to show.
    """
    good = table.cast(pa.schema([pa.field(n, pa.string()) for n in table.column_names]))
    base = {k: ("" if v is None else v) for k, v in good.slice(0, 1).to_pylist()[0].items()}
    rows = [
        (
            base | {"purchase_id": "P900000001", "purchase_date": "2024-02-30"},
            "purchase_date",
            "2024-02-30",
            "not a real date",
        ),
        (base | {"purchase_id": "P900000002", "amount": "문의중"}, "amount", "문의중", "amount is not a number"),
        (base | {"purchase_id": "P900000003", "model": ""}, "model", "", "model is required"),
        (base | {"purchase_id": "", "amount": "31,500,000"}, "purchase_id", "", "purchase_id is required"),
    ]
    assert len(rows) == C.BAD_PURCHASE_ROWS
    bad = pa.Table.from_pylist([r[0] for r in rows]).select(table.column_names)
    combined = pa.concat_tables([good, bad])
    start_row = table.num_rows + 1  # 1 = first data row after the header
    truth = pd.DataFrame(
        {
            "file": "purchases/purchases_000.csv",
            "row_number": range(start_row, start_row + len(rows)),
            "purchase_id": [r[0]["purchase_id"] for r in rows],
            "column_name": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "problem": [r[3] for r in rows],
        }
    )
    return combined, truth


def _customers_file(table: pa.Table) -> pa.Table:
    """Customers as a CRM export writes them: Y/N for consent."""
    flag = table["marketing_opt_in"].to_numpy(zero_copy_only=False)
    return table.set_column(
        table.column_names.index("marketing_opt_in"), "marketing_opt_in", pa.array(np.where(flag, "Y", "N"))
    )


def _dealers_file(table: pa.Table) -> pa.Table:
    """Dealers as a sales-network list: Korean headers, which ingest's synonyms map onto the schema."""
    return table.rename_columns(["딜러코드", "딜러명", "지역", "소속지점"])


def _remove_previous(out: Path) -> None:
    """Delete the files an earlier demo wrote here (a bigger run leaves more blocks behind), and nothing else."""
    if not (out / F.MANIFEST).is_file():
        return
    for entry in F.read_manifest(out)["files"]:
        (out / entry["path"]).unlink(missing_ok=True)
    for path in (out / TRUTH).glob("*"):
        if path.is_file():
            path.unlink()


def generate(out_dir, customers: int = 50_000, seed: int = 42, *, progress: Progress | None = None) -> dict:
    """Write the demo business under ``out_dir``.

    Returns table -> list of file paths, plus ``"truth"`` -> list of truth files. Same seed and
    size, same bytes.
    """
    if customers < 1:
        from carsight.errors import InputError

        raise InputError("the demo needs at least one customer", column="customers", expected="a positive number")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    truth_dir = out / TRUTH
    truth_dir.mkdir(exist_ok=True)
    written: dict[str, list[Path]] = {name: [] for name in TABLE_ORDER}
    written[TRUTH] = []
    manifest: list[dict] = []
    plan = blocks(customers)
    steps = len(plan) + 1
    if progress:
        progress("generate", 0, steps)

    def add(table: str, path: Path, **options) -> None:
        written[table].append(path)
        manifest.append({"table": table, "path": path.relative_to(out).as_posix(), **options})

    vehicles_path = F.write_xlsx(V.vehicles_file_frame(), out / "vehicles" / "vehicles.xlsx", sheet="라인업")
    add(S.VEHICLES.name, vehicles_path)
    add(S.DEALERS.name, F.write_csv(_dealers_file(D.dealers_table()), out / "dealers" / "dealers.csv"))

    truth_writers: dict[str, list[pa.Table]] = {
        "customer_types": [],
        "campaign_response": [],
        "consultation_topics": [],
    }
    counts = {"refunds": 0}
    for number, offset, size in plan:
        static_rng, sim_rng, out_rng = block_seeds(seed, number)
        static = static_customers(size, static_rng)
        state, events = simulate(static, sim_rng)
        block = A.Block(number, offset, static, state, events, out_rng, seed=seed)
        tag = f"{number:03d}"
        customers_table, types = block.customers()
        add(S.CUSTOMERS.name, F.write_csv(_customers_file(customers_table), out / "customers" / f"customers_{tag}.csv"))
        truth_writers["customer_types"].append(types)
        purchases, refunds = block.purchases()
        counts["refunds"] += refunds
        if number == 0:
            purchases, bad = _bad_purchase_rows(purchases)
            bad_path = truth_dir / "bad_rows.csv"
            bad.to_csv(bad_path, index=False)
            written[TRUTH].append(bad_path)
        add(S.PURCHASES.name, F.write_csv(purchases, out / "purchases" / f"purchases_{tag}.csv"))
        # The two biggest tables (millions of rows at 1M customers) go as Parquet: fast to write and read.
        for name, table in ((S.LEADS.name, block.leads()), (S.SERVICE_VISITS.name, block.service_visits())):
            add(name, F.write_parquet(table, out / name / f"{name}_{tag}.parquet"))
        consultations, topics = block.consultations()
        add(S.CONSULTATIONS.name, F.write_csv(consultations, out / "consultations" / f"consultations_{tag}.csv"))
        truth_writers["consultation_topics"].append(topics)
        contacts, response = block.campaign_contacts()
        add(S.CAMPAIGN_CONTACTS.name, F.write_csv(contacts, out / "campaign_contacts" / f"campaign_contacts_{tag}.csv"))
        truth_writers["campaign_response"].append(response)
        if progress:
            progress("generate", number + 1, steps)

    add(S.CAMPAIGNS.name, F.write_csv(A.campaigns_table(), out / "campaigns" / "campaigns.csv"))

    sales = M.sales_frame(seed)
    kind_col = sales["kind"]
    for kind in ("domestic", "overseas_plant"):
        part = pa.Table.from_pandas(sales[kind_col == kind].reset_index(drop=True), preserve_index=False)
        add(S.SALES_MONTHLY.name, F.write_csv(part, out / "sales_monthly" / f"{kind}.csv"))
    messy = sales[kind_col == C.MESSY_SALES_KIND]
    for year in range(C.SALES_START.year, C.SALES_END.year + 1):
        path = F.write_cp949_csv(M.messy_wide(messy, year), out / "sales_monthly" / f"수출실적_{year}.csv")
        add(S.SALES_MONTHLY.name, path, constants={"kind": C.MESSY_SALES_KIND}, year=year)

    events = M.events_frame()
    add(S.EVENTS.name, F.write_csv(pa.Table.from_pandas(events, preserve_index=False), out / "events" / "events.csv"))

    for name, parts in truth_writers.items():
        path = truth_dir / f"{name}.csv"
        F.write_csv(pa.concat_tables(parts), path)
        written[TRUTH].append(path)
    affinity = pd.DataFrame(
        [{"model": m, "market": k, "multiplier": v} for (m, k), v in sorted(C.MARKET_AFFINITY.items())]
    )
    affinity_path = truth_dir / "market_affinity.csv"
    affinity.to_csv(affinity_path, index=False)
    written[TRUTH].append(affinity_path)
    effects = pd.DataFrame(
        [{"name": C.INCENTIVE_NAME, "kind": "incentive", "market": C.INCENTIVE_MARKET, "month": m.isoformat(),
          "multiplier": C.INCENTIVE_UPLIFT} for m in C.INCENTIVE_MONTHS]
        + [{"name": C.SHOCK_NAME, "kind": "shock", "market": "", "month": C.SHOCK_START.isoformat(),
            "multiplier": C.SHOCK_DEPTH}]
    )  # fmt: skip
    effects_path = truth_dir / "event_effects.csv"
    effects.to_csv(effects_path, index=False)
    written[TRUTH].append(effects_path)
    params = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "customers": customers,
        "chunk_customers": C.CHUNK_CUSTOMERS,
        "refund_rows": counts["refunds"],
        "bad_purchase_rows": C.BAD_PURCHASE_ROWS,
    }
    params_path = truth_dir / "params.json"
    params_path.write_text(json.dumps(params, indent=1))
    written[TRUTH].append(params_path)
    manifest.sort(key=lambda e: TABLE_ORDER.index(e["table"]))  # stable: file order kept within a table
    F.write_manifest(out, manifest, {"generator_version": GENERATOR_VERSION, "seed": seed, "customers": customers})
    if progress:
        progress("generate", steps, steps)
    return written


def load_demo(wh, out_dir, *, progress: Progress | None = None) -> dict:
    """Load every file of a generated demo through ``carsight.ingest.load_file`` (the path real files take).

    Returns per table: files, rows_read, inserted, updated, unchanged, rejected, subtotals, seconds.
    """
    from carsight.ingest import load_file

    out = Path(out_dir)
    entries = F.read_manifest(out)["files"]
    summary: dict[str, dict] = {}
    if progress:
        progress("load", 0, len(entries))
    for i, entry in enumerate(entries):
        report = load_file(
            wh,
            entry["table"],
            out / entry["path"],
            mapping=entry.get("mapping"),
            constants=entry.get("constants"),
            year=entry.get("year"),
        )
        row = summary.setdefault(
            entry["table"],
            {
                "files": 0,
                "rows_read": 0,
                "inserted": 0,
                "updated": 0,
                "unchanged": 0,
                "rejected": 0,
                "subtotals": 0,
                "seconds": 0.0,
            },
        )
        row["files"] += 1
        for key in ("rows_read", "inserted", "updated", "unchanged", "rejected", "subtotals"):
            row[key] += int(getattr(report, key))
        row["seconds"] += float(report.seconds)
        if progress:
            progress("load", i + 1, len(entries))
    return summary


def build_demo(wh, out_dir, customers: int = 50_000, seed: int = 42, *, progress: Progress | None = None) -> dict:
    """Generate and load. Returns {"files": …, "tables": per-table load summary, "seconds": {...}}."""
    start = time.perf_counter()
    files = generate(out_dir, customers=customers, seed=seed, progress=progress)
    generated = time.perf_counter()
    tables = load_demo(wh, out_dir, progress=progress)
    done = time.perf_counter()
    return {
        "files": files,
        "tables": tables,
        "seconds": {"generate": generated - start, "load": done - generated, "total": done - start},
    }
