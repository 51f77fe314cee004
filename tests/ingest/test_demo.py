"""The demo business loads through ingest exactly as planted: every bad row quarantined with its
row and column, the messy CP949 export sheets melted without their 합계 rows."""

from __future__ import annotations

import pandas as pd

from carsight.warehouse import connect


def test_planted_bad_rows_are_exactly_the_quarantine(demo_files, demo_wh_path):
    from carsight.demo import truth

    planted = truth.bad_rows(demo_files)
    with connect(str(demo_wh_path), read_only=True) as wh:
        quarantine = wh.table("quarantine").to_pandas()
        log = wh.table("load_log").to_pandas()
    got = set(zip(quarantine.row_number, quarantine.column_name, strict=True))
    assert got == set(zip(planted.row_number, planted.column_name, strict=True))
    assert set(quarantine.source_file) == {name.split("/")[-1] for name in planted.file}
    # the export sheets: one 합계 row each, recognised and kept out
    exports = log[log.source_file.str.startswith("수출실적")]
    assert len(exports) > 0 and (exports.subtotals == 1).all()
    assert (log.rejected[~log.source_file.isin(quarantine.source_file)] == 0).all()


def test_export_sheets_add_up_to_their_total_rows(demo_files, demo_wh_path):
    from carsight.ingest import read_raw

    sheet = sorted((demo_files / "sales_monthly").glob("수출실적_*.csv"))[0]
    year = int(sheet.stem.split("_")[-1])
    raw = read_raw(sheet)
    total_row = raw[raw.iloc[:, 0].str.strip() == "합계"].iloc[0]
    january_total = int(total_row["1월"].strip().replace(",", ""))
    with connect(str(demo_wh_path), read_only=True) as wh:
        t = wh.table("sales_monthly")
        loaded = t.filter((t.kind == "export") & (t.month == pd.Timestamp(year, 1, 1).date())).units.sum()
        assert int(loaded.to_pyarrow().as_py()) == january_total
