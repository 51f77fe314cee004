"""``carsight --warehouse spark://… ingest FILE`` loads as the DuckDB warehouse does.

The same files (purchases with good, bad, repeated and subtotal rows; customers whose dealer is named;
keyless consultations), loaded through the command line into a DuckDB file and into a Spark warehouse
(the tests' one local Spark session, conftest.py): the same rows, the same quarantine rows with the
same reasons, the same ``load_log`` counts; loading again adds no row; a file that is no table is
one line and exit code 2.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from carsight.cli import app
from carsight.config import reset_settings_cache
from carsight.warehouse import connect
from carsight.warehouse import schema as S

from .conftest import spark_url

pytestmark = pytest.mark.spark

DEALERS = pd.DataFrame({"dealer_code": ["D01", "D02"], "name": ["서울 강남지점", "부산 해운대지점"]})
FILES = {
    # A dealer's name is stored as its code; a name nobody has is kept as written.
    "customers": "고객번호,고객명,관리지점\nC1,김철수,서울 강남지점\nC2,이영희,D02\nC3,박민수,대구 수성지점\n",
    "purchases": (
        "계약번호,고객번호,구매일자,차종,거래 금액,결제방식\n"
        'P1,C1,2024-03-05,Tucson," 4,120,000 ",일시불\n'
        'P2,C2,2024-03-06,Avante,"2,000,000",할부\n'
        "P3,,2024-03-07,Kona,abc,리스\n"  # no customer, no amount: quarantined
        "P4,C3,2024-02-30,G70,1,리스\n"  # no such day: quarantined
        'P2,C2,2024-03-06,Avante,"2,100,000",할부\n'  # a later row corrects P2
        '합계,,,,"8,220,001",\n'  # a subtotal, kept out
    ),
    # No consultation number: keys made from the content, identical rows numbered over the file.
    "consultations": "고객번호,상담일시,채널,상담내용\nC1,2024-03-05 10:00,phone,시동 문제\n"
    "C2,2024-03-06 14:22,chat,예약\nC1,2024-03-05 10:00,phone,시동 문제\n",
}
QUARANTINE = ["table_name", "source_file", "row_number", "column_name", "value", "reason", "raw"]
LOAD_LOG = ["table_name", "source_file", "file_sha256", "rows_read", "inserted", "updated", "unchanged",
            "rejected", "subtotals", "notes"]  # fmt: skip

runner = CliRunner()


def _ingest(location: str, *args: str):
    reset_settings_cache()
    result = runner.invoke(app, ["--warehouse", location, "--lang", "en", "ingest", *args])
    reset_settings_cache()
    return result


def _tables(location: str) -> dict[str, pd.DataFrame]:
    wh = connect(location, read_only=not location.startswith("spark://"))
    try:
        out = {}
        for table in (S.DEALERS, S.CUSTOMERS, S.PURCHASES, S.CONSULTATIONS):
            out[table.name] = wh.table(table.name).to_pandas()[table.column_names].sort_values(list(table.keys))
        out["quarantine"] = wh.table("quarantine").to_pandas()[QUARANTINE].sort_values(QUARANTINE[:5])
        out["load_log"] = wh.table("load_log").to_pandas().sort_values("started_at")[LOAD_LOG]
        return {
            k: v.reset_index(drop=True).astype(object).pipe(lambda f: f.where(f.notna(), None)) for k, v in out.items()
        }
    finally:
        wh.close()


def test_ingest_into_spark_writes_what_ingest_into_duckdb_writes(tmp_path):
    for name, text in FILES.items():
        (tmp_path / f"{name}.csv").write_text(text)
    duck, spark = str(tmp_path / "wh.duckdb"), spark_url(tmp_path / "spark")
    outputs = {}
    for location in (duck, spark):
        with connect(location, init=True) as wh:
            wh.replace(S.DEALERS, DEALERS)  # the dealers customers' names are looked up in
        for name in ("customers", "purchases", "purchases", "consultations"):  # the purchases twice
            result = _ingest(location, name, str(tmp_path / f"{name}.csv"))
            assert result.exit_code == 0, result.output
            outputs.setdefault(location, []).append(re.sub(r"\(\d+\.\d s\)", "", result.output))
    assert "read 6 · inserted 2 · updated 0 · unchanged 0 · rejected 2 · subtotals 1" in outputs[spark][1]
    assert "inserted 0 · updated 0 · unchanged 2 · rejected 2" in outputs[spark][2]  # loaded again: no new row
    assert outputs[spark] == outputs[duck]
    ours, theirs = _tables(spark), _tables(duck)
    for name, frame in theirs.items():
        pd.testing.assert_frame_equal(ours[name], frame, check_dtype=False, obj=name)
    assert ours["customers"].dealer_code.tolist() == ["D01", "D02", "대구 수성지점"]
    purchases = ours["purchases"].set_index("purchase_id")
    assert purchases.amount.to_dict() == {"P1": 4_120_000.0, "P2": 2_100_000.0}  # the later P2 row won
    assert len(ours["quarantine"]) == 6 and set(ours["quarantine"].row_number) == {3, 4}  # a row per bad cell
    assert ours["load_log"].inserted.tolist() == [3, 2, 0, 3]
    assert sorted(k.rsplit("-", 1)[1] for k in ours["consultations"].consultation_id) == ["1", "1", "2"]


def test_a_file_that_fits_no_table_is_one_clear_line_on_spark(tmp_path):
    (tmp_path / "notes.csv").write_text("colour,mood\nred,calm\n")
    result = _ingest(spark_url(tmp_path / "spark"), "purchases", str(tmp_path / "notes.csv"))
    assert result.exit_code == 2
    assert result.output.startswith("error:") and "Traceback" not in result.output
    assert "notes.csv" in result.output and len(result.output.strip().splitlines()) <= 3
