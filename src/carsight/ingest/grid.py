"""A sheet as a grid of cells.

Every row of a CSV file or an Excel sheet as text, before any header is chosen, so report-style
tables (title lines, section rows, labels only on a block's first row, footers that name the block
above) can be read by their layout.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd

from carsight.errors import InputError
from carsight.ingest.read import Source, _cell_text, _excel_rows


@dataclass
class Grid:
    """All rows of one sheet as text cells (None = empty), padded to one width.

    ``line`` of row ``i`` is its 1-based row in the sheet (Excel) or record in the file (CSV).
    """

    file: str
    sheet: str | None
    rows: list[list[str | None]]
    sheets_in_file: int = 1

    @property
    def width(self) -> int:
        """The number of cells of the longest row."""
        return max((len(r) for r in self.rows), default=0)

    def frame(self) -> pd.DataFrame:
        """The grid as a frame of text with columns 0..width-1."""
        width = self.width
        return pd.DataFrame([r + [None] * (width - len(r)) for r in self.rows], dtype="object")


def _text(value: object) -> str | None:
    text = _cell_text(value)
    if text is None:
        return None
    text = text.strip()
    return text or None


def sheet_names(src: Source) -> list[str]:
    """The sheets of an Excel source (one unnamed entry for other formats)."""
    if src.kind != "excel":
        return [None]  # type: ignore[list-item]
    import openpyxl

    try:
        book = openpyxl.load_workbook(src.path, read_only=True)
    except Exception as exc:
        raise InputError(f"not a readable Excel file: {exc}", file=src.name) from exc
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def read_grids(src: Source) -> list[Grid]:
    """Every sheet of a workbook as grids, from one pass over the file (one grid for other formats)."""
    if src.kind != "excel":
        return [read_grid(src)]
    import openpyxl

    try:
        book = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"not a readable Excel file: {exc}", file=src.name) from exc
    try:
        return [
            Grid(src.name, sheet.title, [[_text(v) for v in row] for row in sheet.iter_rows(values_only=True)])
            for sheet in book.worksheets
        ]
    finally:
        book.close()


def read_grid(src: Source, sheet: str | int | None = None) -> Grid:
    """Every row of ``src`` (one sheet of a workbook) as text cells."""
    if src.kind == "excel":
        rows, name = _excel_rows(src.path, sheet)
        return Grid(src.name, name, [[_text(v) for v in row] for row in rows])
    if src.kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(src.path).to_pandas()
        header = [str(c) for c in table.columns]
        body = [[_text(v) if v is not None and v == v else None for v in row] for row in table.itertuples(index=False)]
        return Grid(src.name, None, [header, *body])
    return Grid(src.name, None, _csv_rows(src))


def _csv_rows(src: Source) -> list[list[str | None]]:
    encodings = [src.encoding or "utf-8"]
    if encodings[0] in ("utf-8", "utf-8-sig"):
        encodings.append("cp949")
    for encoding in encodings:
        try:
            with open(src.path, encoding=encoding, errors="strict", newline="") as fh:
                text = fh.read()
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(
            f"the file is not valid {' or '.join(encodings)} text",
            file=src.name,
            expected="UTF-8 or CP949; pass --encoding",
        )
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=src.delimiter)
    return [[(c.strip() or None) for c in row] for row in reader]
