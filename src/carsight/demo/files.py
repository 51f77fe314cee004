"""Writing the demo tables as the files a company would hand over.

Clean UTF-8 CSV, Parquet for the biggest tables, an Excel line-up with Korean headers, CP949 wide
export sheets with a 합계 row, and a manifest that tells ``load_demo`` how each file maps onto the
schema. Byte-for-byte deterministic for a seed (no timestamps in any file).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
_FIXED_ZIP_TIME = (2025, 1, 1, 0, 0, 0)


def write_csv(table: pa.Table, path: Path) -> Path:
    """Write ``table`` as UTF-8 CSV, quoting only where needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return path


def write_parquet(table: pa.Table, path: Path) -> Path:
    """Write ``table`` as zstd-compressed Parquet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=256_000)
    return path


def write_cp949_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A spreadsheet exported on a Korean Windows PC: CP949, CRLF line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode("cp949"))
    return path


def write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> Path:
    """An Excel file without save-time timestamps.

    openpyxl and zipfile put timestamps in; without them one seed always gives the same bytes.
    """
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):  # a few dozen rows: the line-up
        ws.append([None if (isinstance(v, float) and v != v) or v == "" else v for v in row])
    buffer = io.BytesIO()
    wb.save(buffer)
    src = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2025-01-01T00:00:00Z", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, data)
    path.write_bytes(out.getvalue())
    return path


def write_manifest(out_dir: Path, entries: list[dict], meta: dict) -> Path:
    """``entries``: one per file, in load order: table, path (relative), mapping, constants, year."""
    path = out_dir / MANIFEST
    path.write_text(json.dumps({**meta, "files": entries}, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def read_manifest(out_dir: Path) -> dict:
    """The manifest of generated demo files (which file feeds which table)."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        from carsight.errors import InputError

        raise InputError(
            "no demo manifest here: generate the demo first",
            file=str(path),
            expected="a folder written by `carsight demo`",
        )
    return json.loads(path.read_text(encoding="utf-8"))
