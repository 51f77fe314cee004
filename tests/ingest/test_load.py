"""load_file: idempotent upserts, corrections, quarantine, load_log, rejected CSV, dry runs."""

from __future__ import annotations

import pandas as pd

from carsight.ingest import load_file

HEADER = "계약번호,고객번호,구매일자,차종,거래 금액,결제방식\n"
GOOD = 'P1,C1,2024-03-05,Tucson," 4,120,000 ",일시불\nP2,C2,2024-03-06,Avante,"2,000,000",할부\n'
BAD = "P3,,2024-03-07,Kona,abc,리스\n"
TOTAL = '합계,,,,"6,120,000",\n'


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _amounts(wh):
    return wh.table("purchases").to_pandas().set_index("purchase_id")["amount"].to_dict()


def test_load_then_reload_changes_nothing(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "구매.csv", HEADER + GOOD + BAD + TOTAL, "cp949")
    first = load_file(tmp_warehouse, "purchases", path)
    assert (first.rows_read, first.inserted, first.updated, first.rejected, first.subtotals) == (4, 2, 0, 1, 1)
    again = load_file(tmp_warehouse, "purchases", path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert _amounts(tmp_warehouse) == {"P1": 4_120_000.0, "P2": 2_000_000.0}


def test_a_corrected_file_updates_what_it_corrects(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", HEADER + GOOD)
    load_file(tmp_warehouse, "purchases", path)
    _write(path, HEADER + GOOD.replace('"2,000,000"', '"2,500,000"') + "P4,C4,2024-03-08,G70,1,리스\n")
    report = load_file(tmp_warehouse, "purchases", path)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    assert _amounts(tmp_warehouse) == {"P1": 4_120_000.0, "P2": 2_500_000.0, "P4": 1.0}


def test_rejected_rows_go_to_quarantine_and_a_csv_beside_the_file(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", HEADER + GOOD + BAD)
    report = load_file(tmp_warehouse, "purchases", path)
    assert report.rejected_path == tmp_path / "p.rejected.csv"
    rejected = pd.read_csv(report.rejected_path, encoding="utf-8-sig")
    assert rejected["row_number"].tolist() == [3, 3]
    assert set(rejected["column_name"]) == {"고객번호", "거래 금액"}
    quarantine = tmp_warehouse.table("quarantine").to_pandas()
    assert set(quarantine["row_number"]) == {3}
    assert set(quarantine["source_file"]) == {"p.csv"}
    assert (quarantine["load_id"] == report.load_id).all()
    # once the file is fixed, the stale list of rejects goes away
    _write(path, HEADER + GOOD)
    assert load_file(tmp_warehouse, "purchases", path).rejected_path is None
    assert not (tmp_path / "p.rejected.csv").exists()


def test_rejected_csv_falls_back_to_the_output_dir(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", HEADER + BAD)
    # Something that cannot be written over stands where the rejected file would go.
    (tmp_path / "p.rejected.csv").mkdir()
    report = load_file(tmp_warehouse, "purchases", path, output_dir=tmp_path / "out")
    assert report.rejected_path == tmp_path / "out" / "p.rejected.csv"
    assert report.rejected_path.is_file()


def test_every_load_is_logged(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", HEADER + GOOD + TOTAL)
    load_file(tmp_warehouse, "purchases", path)
    load_file(tmp_warehouse, "purchases", path)
    log = tmp_warehouse.table("load_log").to_pandas().sort_values("started_at")
    assert log["inserted"].tolist() == [2, 0]
    assert log["unchanged"].tolist() == [0, 2]
    assert log["subtotals"].tolist() == [1, 1]
    assert log["file_sha256"].nunique() == 1 and len(log["file_sha256"].iloc[0]) == 64


def test_dry_run_writes_nothing_but_reports_what_it_would_do(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", HEADER + GOOD + BAD)
    load_file(tmp_warehouse, "purchases", path)
    _write(path, HEADER + GOOD.replace("Tucson", "Tucson HEV") + "P9,C9,2024-01-01,Kona,5,리스\n" + BAD)
    report = load_file(tmp_warehouse, "purchases", path, dry_run=True)
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (1, 1, 1, 1)
    assert report.rejected_path is not None and report.rejected_path.exists()
    assert tmp_warehouse.count("purchases") == 2
    assert tmp_warehouse.count("load_log") == 1
    assert "Tucson HEV" not in set(tmp_warehouse.table("purchases").to_pandas()["model"])


def test_wide_export_file_loads_into_sales_monthly_and_reloads_idempotently(tmp_warehouse, tmp_path):
    text = '차종,Jan,Feb,Mar,Total\nTucson," 1,200 ",-,300,1500\nTotal,1200,0,300,1500\n'
    path = _write(tmp_path / "export_2024.csv", text)
    consts = {"brand": "Hyundai", "kind": "export", "market": "USA"}
    first = load_file(tmp_warehouse, "sales_monthly", path, constants=consts)
    assert (first.inserted, first.subtotals) == (3, 1)
    assert load_file(tmp_warehouse, "sales_monthly", path, constants=consts).inserted == 0
    units = tmp_warehouse.table("sales_monthly").to_pandas()["units"]
    assert units.sum() == 1500
