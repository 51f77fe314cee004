"""Loading in chunks: a file larger than a chunk loads exactly as if it were read whole (counts, the
last row of a key wins across chunks, content keys numbered over the whole file), and a load is all
or nothing: one that fails or is killed half way leaves nothing of its file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from carsight.ingest import load as load_module
from carsight.ingest import load_file, read_table, sqlclean
from carsight.ingest.table import CHUNK_ROWS, open_records
from carsight.warehouse import connect
from carsight.warehouse import schema as S
from carsight.warehouse.staging import Stage

HEADER = "계약번호,고객번호,구매일자,차종,거래 금액,결제방식\n"
# 11 data rows (7 purchases); with chunks of 3 rows, P2's correction (row 7) and P5's (row 10) sit in later
# chunks than the rows they correct, the bad row 4 and the subtotal row 8 in the middle ones.
ROWS = [
    'P1,C1,2024-03-05,Tucson," 4,120,000 ",일시불',
    "P2,C2,2024-03-06,Avante,2000000,할부",
    "P3,C3,2024-03-07,Kona,3000000,리스",
    "P4,,2024-03-08,Kona,abc,리스",
    "P5,C5,2024-03-09,G70,5000000,현금",
    "P6,C6,2024-03-10,GV80,6000000,일시불",
    "P2,C2,2024-03-06,Avante,2500000,할부",
    '합계,,,,"22,620,000",',
    "P7,C7,2024-03-11,Sonata,7000000,포인트",
    "P5,C5,2024-03-09,G70,5500000,현금",
    "P8,C8,2024-03-12,Ioniq 5,8000000,카드",
]


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _table(wh, name: str, key: str) -> pd.DataFrame:
    return wh.table(name).to_pandas().sort_values(key).reset_index(drop=True)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values only (the warehouse and pandas spell a missing value differently)."""
    frame = frame.astype(object)
    return frame.where(frame.notna(), None)


def _staging_tables(wh) -> list[str]:
    return [name for name in wh.con.list_tables() if name.startswith(("_stage", "_cells"))]


def test_a_file_larger_than_a_chunk_loads_as_if_it_were_read_whole(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", ROWS)
    report = load_file(tmp_warehouse, "purchases", path, chunk_rows=3)
    assert (report.rows_read, report.inserted, report.updated, report.unchanged) == (11, 7, 0, 0)
    assert (report.rejected, report.subtotals, report.duplicates) == (1, 1, 2)
    assert any("P2" in w and "P5" in w for w in report.warnings)
    stored = _table(tmp_warehouse, "purchases", "purchase_id")
    whole = read_table(path, "purchases").frame.sort_values("purchase_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(_plain(stored), _plain(whole))
    # The last row of a key wins, also when it sits in a later chunk.
    amounts = stored.set_index("purchase_id")["amount"]
    assert (amounts["P2"], amounts["P5"]) == (2_500_000, 5_500_000)
    # Row numbers count on across chunks.
    quarantine = tmp_warehouse.table("quarantine").to_pandas()
    assert set(quarantine["row_number"]) == {4} and set(quarantine["column_name"]) == {"고객번호", "거래 금액"}
    # Chunked differently, the same file changes nothing.
    again = load_file(tmp_warehouse, "purchases", path, chunk_rows=2)
    assert (again.inserted, again.updated, again.unchanged, again.duplicates) == (0, 0, 7, 2)
    assert _staging_tables(tmp_warehouse) == []


KEYLESS_HEADER = "고객번호,구매일자,차종,거래 금액\n"
# Three identical purchases (C1 bought two Tucsons on one day, and a third), in three chunks of 2.
KEYLESS = [
    "C1,2024-03-05,Tucson,100",
    "C2,2024-03-06,Avante,200",
    "C1,2024-03-05,Tucson,101",
    "C3,2024-03-07,Kona,300",
    "C1,2024-03-05,Tucson,102",
]


def test_content_keys_number_identical_rows_over_the_whole_file(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "keyless.csv", KEYLESS, KEYLESS_HEADER)
    report = load_file(tmp_warehouse, "purchases", path, chunk_rows=2)
    assert (report.inserted, report.duplicates) == (5, 0)
    assert any("purchase_id" in n for n in report.notes)
    stored = _table(tmp_warehouse, "purchases", "purchase_id")
    whole = read_table(path, "purchases").frame
    # The same keys as a whole-file read, and the running number follows the file order.
    assert sorted(stored["purchase_id"]) == sorted(whole["purchase_id"])
    tucsons = stored[stored["model"] == "Tucson"].sort_values("amount")
    digests = {k.rsplit("-", 1)[0] for k in tucsons["purchase_id"]}
    assert len(digests) == 1
    assert [k.rsplit("-", 1)[1] for k in tucsons["purchase_id"]] == ["1", "2", "3"]
    # Re-loading, in other chunks, is idempotent; a corrected second Tucson updates that row only.
    again = load_file(tmp_warehouse, "purchases", path, chunk_rows=3)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    _write(path, [r.replace("Tucson,101", "Tucson,111") for r in KEYLESS], KEYLESS_HEADER)
    corrected = load_file(tmp_warehouse, "purchases", path, chunk_rows=2)
    assert (corrected.inserted, corrected.updated, corrected.unchanged) == (0, 1, 4)
    by_key = _table(tmp_warehouse, "purchases", "purchase_id").set_index("purchase_id")["amount"]
    assert by_key[next(iter(digests)) + "-2"] == 111


def test_content_keys_do_not_depend_on_how_the_file_is_chunked(tmp_warehouse, tmp_path):
    # Times at midnight in the first chunk, others later: each row's key is made from its own
    # values, not from how its neighbours are written.
    rows = ["C1,2024-03-05 00:00,phone,시동 문제", "C2,2024-03-05 00:00,chat,예약", "C3,2024-03-06 14:22,phone,소음"]
    path = _write(tmp_path / "상담.csv", rows, "고객번호,상담일시,채널,상담내용\n")
    load_file(tmp_warehouse, "consultations", path, chunk_rows=2)
    stored = set(tmp_warehouse.table("consultations").to_pandas()["consultation_id"])
    assert stored == set(read_table(path, "consultations").frame["consultation_id"])
    again = load_file(tmp_warehouse, "consultations", path, chunk_rows=1)
    assert (again.inserted, again.unchanged) == (0, 3)


def test_a_load_that_fails_before_its_commit_leaves_nothing(tmp_warehouse, tmp_path, monkeypatch):
    first = _write(tmp_path / "p.csv", ROWS[:3])
    load_file(tmp_warehouse, "purchases", first, chunk_rows=2)
    before = _table(tmp_warehouse, "purchases", "purchase_id")
    path = _write(tmp_path / "p2.csv", [r.replace("Tucson", "Tucson HEV") for r in ROWS])

    def fail(*args, **kwargs):
        raise OSError("disk gone")

    # The log is written last, after the upsert has changed and added rows inside the transaction.
    monkeypatch.setattr(load_module, "file_sha256", fail)
    with pytest.raises(OSError):
        load_file(tmp_warehouse, "purchases", path, chunk_rows=3)
    pd.testing.assert_frame_equal(_table(tmp_warehouse, "purchases", "purchase_id"), before)
    assert tmp_warehouse.count("load_log") == 1 and tmp_warehouse.count("quarantine") == 0
    assert _staging_tables(tmp_warehouse) == []
    monkeypatch.undo()
    report = load_file(tmp_warehouse, "purchases", path, chunk_rows=3)
    assert (report.inserted, report.updated, report.unchanged) == (4, 2, 1)
    assert tmp_warehouse.count("purchases") == 7


def test_a_dry_run_leaves_no_staging_table_behind(tmp_warehouse, tmp_path):
    path = _write(tmp_path / "p.csv", ROWS)
    report = load_file(tmp_warehouse, "purchases", path, chunk_rows=3, dry_run=True)
    assert (report.inserted, report.rejected, report.duplicates) == (7, 1, 2)
    assert _staging_tables(tmp_warehouse) == []
    assert tmp_warehouse.count("purchases") == 0 and tmp_warehouse.count("load_log") == 0


def _purchases_csv(path: Path, rows: int, *, ragged_last: bool = False, encoding: str = "utf-8") -> Path:
    """A clean purchases file of ``rows`` rows (ids in file order), as an export writes it."""
    rng = np.random.default_rng(3)
    ids = np.arange(rows)
    table = pa.table(
        {
            "purchase_id": pa.array(np.char.add("P", np.char.zfill(ids.astype("U9"), 9))),
            "customer_id": pa.array(np.char.add("C", rng.integers(0, rows // 3 + 1, rows).astype("U9"))),
            "purchase_date": pa.array(
                np.datetime64("2020-01-01") + rng.integers(0, 1500, rows).astype("timedelta64[D]")
            ),
            "model": pa.array(np.array(["Tucson", "Avante", "Kona", "G70"])[rng.integers(0, 4, rows)]),
            "amount": pa.array(rng.integers(9_000, 90_000, rows) * 1000),
        }
    )
    pcsv.write_csv(table, path)
    if encoding != "utf-8":  # as Korean Excel saves it: DuckDB does not read it, the chunked reader does
        path.write_bytes(path.read_bytes().decode("utf-8").replace("Kona", "코나").encode(encoding))
    if ragged_last:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write('"P999999999","C1",2024-01-01,"Kona",1000,"one field too many"\n')
    return path


def test_a_file_the_typed_reader_gives_up_on_half_way_is_staged_again_from_its_start(
    tmp_warehouse, tmp_path, monkeypatch
):
    # A row with one field too many near the end: the typed reader fails on a later block, after
    # chunks were staged; the file is read again as text, and nothing is staged twice.
    path = _purchases_csv(tmp_path / "big.csv", 60_000, ragged_last=True)
    cleared = []
    real_clear = Stage.clear
    monkeypatch.setattr(Stage, "clear", lambda self: (cleared.append(self.rows), real_clear(self)))
    report = load_file(tmp_warehouse, "purchases", path, chunk_rows=10_000)
    assert cleared and cleared[0] > 0  # chunks had been staged before the reader gave up
    assert (report.rows_read, report.inserted, report.rejected, report.duplicates) == (60_001, 60_000, 1, 0)
    assert tmp_warehouse.count("purchases") == 60_000
    rejected = tmp_warehouse.table("quarantine").to_pandas()
    assert rejected["row_number"].tolist() == [60_001]


# `carsight ingest`, killed with SIGKILL right after the upsert wrote its rows into the table, inside the
# load's transaction and before its commit: the latest point a kill can come and still undo the load.
_DIE_AFTER_WRITING = """
import os, signal, sys
from carsight.cli import main
from carsight.warehouse.connection import Warehouse
run = Warehouse._run_in_transaction
def run_then_die(self, statements):
    run(self, statements)
    if any(sql.startswith("INSERT INTO") for sql in statements):
        os.kill(os.getpid(), signal.SIGKILL)
Warehouse._run_in_transaction = run_then_die
sys.argv = ["carsight", *sys.argv[1:]]
main()
"""


class _Load:
    """``carsight ingest purchases FILE`` in a process of its own, watched through ``/proc``: whether it
    holds the file open, and how much it has read since it first opened it."""

    def __init__(self, path: Path, warehouse: Path, *, die_after_writing: bool = False):
        env = {**os.environ, "CARSIGHT_WAREHOUSE": str(warehouse), "CARSIGHT_LANG": "en"}
        carsight = [str(Path(sys.executable).with_name("carsight"))]
        if die_after_writing:  # the same command, killing itself once its rows are in the table
            carsight = [sys.executable, "-c", _DIE_AFTER_WRITING]
        self.path, self.size = path, path.stat().st_size
        self.proc = subprocess.Popen(
            [*carsight, "ingest", "purchases", str(path)],
            cwd=path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.read_before = 0

    def _holds_file(self) -> bool:
        pid = self.proc.pid
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(self.path):
                    return True
            except OSError:
                continue
        return False

    def _read(self) -> int:
        with open(f"/proc/{self.proc.pid}/io") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("rchar"))

    def _wait(self, ready, timeout: float = 120.0) -> float:
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, "the load finished before the point to kill it at"
            assert time.monotonic() < deadline, "the load never reached the point to kill it at"
            time.sleep(0.002)
        return time.monotonic()

    def opened(self) -> float:
        """When the load opened its file."""
        at = self._wait(self._holds_file)
        self.read_before = self._read()
        return at

    def staged(self) -> float:
        """When the load has read the whole file (twice: to hash it, and to stage it) and let go of
        it: every chunk is staged, and the writing begins."""
        return self._wait(lambda: self._read() - self.read_before >= 2 * self.size and not self._holds_file())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=60)
        assert self.proc.returncode == -signal.SIGKILL

    def finish(self) -> str:
        out, err = self.proc.communicate(timeout=300)
        assert self.proc.returncode == 0, err.decode()
        return out.decode()


def _assert_nothing_loaded(warehouse: Path) -> None:
    with connect(str(warehouse)) as wh:  # opens (and recovers) after the kill
        assert wh.count("purchases") == 0
        assert wh.count("load_log") == 0 and wh.count("quarantine") == 0
        assert _staging_tables(wh) == []


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["utf-8", "cp949"])  # read by DuckDB; read in chunks
def test_a_load_killed_half_way_leaves_nothing_and_the_rerun_loads_every_row_once(tmp_path, encoding):
    rows = 3 * CHUNK_ROWS  # three chunks
    path = _purchases_csv(tmp_path / "BIG.csv", rows, encoding=encoding)
    assert sqlclean.fits(open_records(path, S.PURCHASES)) == (encoding == "utf-8")
    # A first load, elsewhere, times the reading and staging, to kill the next one half way through.
    timing = _Load(path, tmp_path / "timing.duckdb")
    window = -timing.opened() + timing.staged()
    timing.finish()
    warehouse = tmp_path / "wh.duckdb"
    connect(str(warehouse), init=True).close()

    # Killed half way through reading and staging the file.
    load = _Load(path, warehouse)
    opened = load.opened()
    load._wait(lambda: time.monotonic() >= opened + window / 2)
    load.kill()
    _assert_nothing_loaded(warehouse)

    # Killed while it writes: once every row is in the table, before the commit (a kill timed from
    # outside could come after a write this short).
    load = _Load(path, warehouse, die_after_writing=True)
    out, err = load.proc.communicate(timeout=300)
    assert load.proc.returncode == -signal.SIGKILL, err.decode()
    _assert_nothing_loaded(warehouse)

    out = _Load(path, warehouse).finish()
    assert f"inserted {rows:,}" in out
    with connect(str(warehouse)) as wh:
        assert wh.count("purchases") == rows
        assert wh.table("purchases").purchase_id.nunique().to_pyarrow().as_py() == rows
        assert wh.count("load_log") == 1
