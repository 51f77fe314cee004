"""Opening the files people have, and reading CSV/TSV, Excel and Parquet into frames in chunks.

Files are found (macOS NFD names), decoded (UTF-8, UTF-8 with BOM, CP949/EUC-KR), and their delimiter
and header row sniffed. Typed reading (pyarrow) is tried first; a file it cannot read cleanly is read
again as plain text, so a messy file is slower but never refused for its mess.
"""

from __future__ import annotations

import codecs
import csv
import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.errors import InputError

CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".dat", ""}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
UNSUPPORTED_SUFFIXES = {".numbers": "Apple Numbers", ".ods": "OpenDocument spreadsheet", ".pages": "Apple Pages",
                        ".key": "Apple Keynote", ".hwp": "Hangul word processor", ".pdf": "PDF"}  # fmt: skip
DELIMITERS = (",", "\t", ";", "|")
SAMPLE_BYTES = 1 << 20
READ_BLOCK_BYTES = 1 << 20
HEADER_SCAN_ROWS = 30


def resolve_path(path: str | os.PathLike) -> Path:
    """The file at ``path``, also when its name's Unicode normal form differs from the one typed.

    That is, a name typed in NFC but stored in NFD (files copied from a Mac), or the other way round.

    Raises
    ------
    InputError
        If no such file is found.
    """
    p = Path(path)
    if p.exists():
        return p
    for form in ("NFC", "NFD"):
        variant = Path(unicodedata.normalize(form, str(p)))
        if variant.exists():
            return variant
    parent = p.parent if str(p.parent) else Path(".")
    for form in ("NFC", "NFD"):
        parent_variant = Path(unicodedata.normalize(form, str(parent)))
        if parent_variant.is_dir():
            target = unicodedata.normalize("NFC", p.name)
            for entry in parent_variant.iterdir():
                if unicodedata.normalize("NFC", entry.name) == target:
                    return entry
    raise InputError("file not found", file=str(path))


def display_name(path: Path) -> str:
    """The file's name (without its folder), NFC-normalised for messages."""
    return unicodedata.normalize("NFC", path.name)


def file_kind(path: Path) -> str:
    """The kind of file at ``path``: ``"excel"``, ``"parquet"`` or ``"csv"``.

    Told by the suffix, then by the first bytes (Parquet's magic number, a zip holding a workbook);
    anything else is read as CSV.

    Raises
    ------
    InputError
        For an old ``.xls`` file, a format carsight does not read (Numbers, ODS, PDF …) or a zip
        archive that is not an Excel workbook.
    """
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix == ".xls":
        raise InputError(
            "old Excel .xls files are not supported", file=display_name(path), expected="save as .xlsx or .csv"
        )
    if suffix in UNSUPPORTED_SUFFIXES:
        raise InputError(
            f"{UNSUPPORTED_SUFFIXES[suffix]} files are not supported", file=display_name(path),
            expected="export it as .xlsx or .csv",
        )  # fmt: skip
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return "parquet"
    if magic[:2] == b"PK":
        import zipfile

        # .xlsx is a zip with a workbook inside; other zips (Numbers, ODS, a zipped CSV) are not sheets.
        try:
            with zipfile.ZipFile(path) as archive:
                is_workbook = "xl/workbook.xml" in archive.namelist()
        except zipfile.BadZipFile:
            is_workbook = False
        if not is_workbook:
            raise InputError(
                "a zip archive, not a spreadsheet carsight reads", file=display_name(path),
                expected="an .xlsx, .csv or .parquet file",
            )  # fmt: skip
        return "excel"
    return "csv"


# ---- encoding and delimiter ---------------------------------------------------------------------------
def _decodes(data: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final=final)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def detect_encoding(path: Path, sample: bytes | None = None) -> str:
    """The text encoding of a file, tried as a strict ladder on the first megabyte.

    UTF-8 (with or without BOM; a UTF-16 BOM gives UTF-16), then CP949 (a superset of EUC-KR), then
    charset-normalizer's guess. The reader falls back again if the rest disagrees.

    Raises
    ------
    InputError
        If not even charset-normalizer can tell the encoding.
    """
    if sample is None:
        with open(path, "rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
    final = path.stat().st_size <= len(sample)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "cp949"):
        if _decodes(sample, encoding, final):
            return encoding
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InputError("cannot tell the text encoding", file=display_name(path), expected="UTF-8 or CP949 text")
    return best.encoding


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample lines into the most consistent number (>1) of fields."""
    best, best_score = ",", (-1.0, 0)
    rows = [line for line in lines if line.strip()][:50]
    if not rows:
        return ","
    for delim in DELIMITERS:
        counts = [len(r) for r in csv.reader(rows, delimiter=delim)]
        wide = [c for c in counts if c > 1]
        if not wide:
            continue
        mode = max(set(wide), key=wide.count)
        score = (wide.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def find_header_row(rows: list[list[str]]) -> int:
    """Index of the header among the first rows, skipping title lines above the table.

    Title lines are such as "2024년 판매실적" or "(단위: 대)". The header is the first row filled at
    least half as wide as the widest of the first rows.
    """
    filled = [sum(1 for v in row if str(v).strip()) for row in rows[:HEADER_SCAN_ROWS]]
    if not filled:
        return 0
    widest = max(filled)
    for i, count in enumerate(filled):
        if count >= max(2, widest / 2) or (widest == 1 and count == 1):
            return i
    return 0


# ---- the raw source ------------------------------------------------------------------------------------
@dataclass
class Source:
    """A file ready to be read: kind, encoding, delimiter, header position and headers."""

    path: Path
    kind: str
    encoding: str | None = None
    delimiter: str = ","
    header_row: int = 0  # rows above the header (title lines) in the file
    headers: list[str] = field(default_factory=list)
    sheet: str | None = None
    size: int = 0
    row_bytes: float = 0.0  # average bytes per line in the sample, to estimate progress

    @property
    def name(self) -> str:
        """The file's name for messages (:func:`display_name`)."""
        return display_name(self.path)


def _clean_headers(raw: list[object]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(raw):
        text = unicodedata.normalize("NFC", "" if h is None else str(h)).strip().lstrip("\ufeff")
        if not text:
            text = f"column_{i + 1}"
        if text in seen:
            seen[text] += 1
            text = f"{text}.{seen[text]}"
        else:
            seen[text] = 0
        out.append(text)
    return out


def open_source(path: str | os.PathLike, *, encoding: str | None = None, sheet: str | int | None = None) -> Source:
    """Find the file and learn how to read it (without reading it all)."""
    p = resolve_path(path)
    if p.is_dir():
        raise InputError("is a directory, not a file", file=str(path))
    kind = file_kind(p)
    src = Source(path=p, kind=kind, size=p.stat().st_size)
    if kind == "csv":
        with open(p, "rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
        if not sample.strip():
            raise InputError("the file is empty", file=src.name)
        src.encoding = encoding or detect_encoding(p, sample)
        try:
            text = codecs.getincrementaldecoder(src.encoding)(errors="replace").decode(sample, final=False)
        except LookupError as exc:
            raise InputError(f"unknown encoding '{encoding}'", file=src.name, expected="utf-8, cp949, euc-kr") from exc
        all_lines = text.splitlines()
        src.row_bytes = len(sample) / max(len(all_lines), 1)
        lines = all_lines[: HEADER_SCAN_ROWS + 20]
        if len(sample) == SAMPLE_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last line of a sample may be cut
        src.delimiter = sniff_delimiter(lines)
        rows = list(csv.reader(lines, delimiter=src.delimiter))
        src.header_row = find_header_row(rows)
        src.headers = _clean_headers(rows[src.header_row] if rows else [])
    elif kind == "excel":
        rows, src.sheet = _excel_rows(p, sheet, limit=HEADER_SCAN_ROWS)
        src.header_row = find_header_row([["" if v is None else v for v in r] for r in rows])
        src.headers = _clean_headers(list(rows[src.header_row]) if rows else [])
        while src.headers and src.headers[-1].startswith("column_"):
            src.headers.pop()  # trailing empty cells Excel keeps in the used range
    else:
        import pyarrow.parquet as pq

        try:
            src.headers = _clean_headers(pq.read_schema(p).names)
        except Exception as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=src.name) from exc
    if not src.headers:
        raise InputError("no header row found", file=src.name)
    return src


def _excel_rows(path: Path, sheet: str | int | None, limit: int | None = None) -> tuple[list[tuple], str]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"not a readable Excel file: {exc}", file=display_name(path)) from exc
    try:
        names = book.sheetnames
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
            index = int(sheet)
            if not 0 <= index < len(names):
                raise InputError(f"no sheet number {index}", file=display_name(path), expected=", ".join(names))
            name = names[index]
        else:
            wanted = unicodedata.normalize("NFC", str(sheet)).strip()
            matches = [n for n in names if unicodedata.normalize("NFC", n).strip() == wanted]
            if not matches:
                raise InputError(f"no sheet '{sheet}'", file=display_name(path), expected="one of " + ", ".join(names))
            name = matches[0]
        rows = []
        for i, row in enumerate(book[name].iter_rows(values_only=True)):
            if limit is not None and i >= limit:
                break
            rows.append(row)
        return rows, name
    finally:
        book.close()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
        return text[:-9] if text.endswith(" 00:00:00") else text
    return unicodedata.normalize("NFC", str(value))


# ---- chunks ----------------------------------------------------------------------------------------------
@dataclass
class Chunk:
    """Rows of a file with the file's own headers.

    ``first_row`` is the 1-based data-row number of the chunk's first row; ``errors`` are rows that
    could not be split into fields.
    """

    frame: pd.DataFrame
    first_row: int
    errors: list[tuple[int, int, int]] = field(default_factory=list)  # row, fields found, fields expected
    bytes_read: int = 0


def _arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    def mapper(t: pa.DataType):
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return pd.StringDtype("pyarrow")
        return None

    return table.to_pandas(types_mapper=mapper, split_blocks=True, self_destruct=True, date_as_object=False)


def iter_chunks(
    src: Source,
    *,
    chunk_rows: int = 200_000,
    text_columns: set[str] | None = None,
    typed: bool = True,
    forgiving: bool = False,
) -> Iterator[Chunk]:
    """Read ``src`` in chunks.

    ``text_columns`` (file headers) are always read as text, so ids such as ``00123`` keep their
    zeros; with ``typed`` other CSV columns get pyarrow's inferred types, without it every column is
    text. ``forgiving`` uses the plain-Python CSV reader, which reports ragged rows instead of failing
    (:class:`FallBack` tells the caller to switch to it).
    """
    if src.kind == "parquet":
        yield from _parquet_chunks(src, chunk_rows)
    elif src.kind == "excel":
        yield from _excel_chunks(src, chunk_rows)
    elif forgiving:
        yield from _text_csv_chunks(src, chunk_rows)
    else:
        columns = (text_columns or set()) if typed else set(src.headers)
        yield from _arrow_csv_chunks(src, chunk_rows, columns)


class FallBack(Exception):
    """Typed reading failed; read the file again as text."""


def _arrow_csv_chunks(src: Source, chunk_rows: int, text_columns: set[str]) -> Iterator[Chunk]:
    import pyarrow.csv as pcsv

    # pyarrow transcodes other encodings (CP949) through Python's codecs as it streams.
    encoding = "utf8" if src.encoding in ("utf-8", "utf-8-sig", "ascii", None) else src.encoding
    read = pcsv.ReadOptions(
        skip_rows=src.header_row + 1,
        column_names=src.headers,
        encoding=encoding,
        # The reader keeps reading ahead of the caller (up to 32 blocks); small blocks keep what it
        # holds in memory small, whatever the size of the file.
        block_size=READ_BLOCK_BYTES,
        use_threads=True,
    )
    parse = pcsv.ParseOptions(delimiter=src.delimiter, ignore_empty_lines=False, newlines_in_values=True)
    # Large strings are what pandas keeps Arrow text in, so no column is copied to become one.
    types = {h: pa.large_string() for h in text_columns if h in src.headers}
    convert = pcsv.ConvertOptions(
        column_types=types,
        strings_can_be_null=True,
        null_values=[""],
        true_values=["true", "True", "TRUE"],
        false_values=["false", "False", "FALSE"],
        timestamp_parsers=[pcsv.ISO8601],
        quoted_strings_can_be_null=True,
    )
    try:
        reader = pcsv.open_csv(src.path, read_options=read, parse_options=parse, convert_options=convert)
        row = 1
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        for batch in reader:
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= chunk_rows:  # a block may hold several chunks (slicing copies nothing)
                table = pa.Table.from_batches(pending)
                rest = table.slice(chunk_rows)
                done = min(src.size, int((row + chunk_rows + src.header_row) * src.row_bytes))
                yield Chunk(_arrow_to_pandas(table.slice(0, chunk_rows)), row, bytes_read=done)
                row += chunk_rows
                pending, n_pending = rest.to_batches(), rest.num_rows
        if pending or row == 1:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield Chunk(_arrow_to_pandas(table), row, bytes_read=src.size)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeError, LookupError) as exc:
        raise FallBack(str(exc)) from exc


def _text_csv_chunks(src: Source, chunk_rows: int) -> Iterator[Chunk]:
    """Read with the forgiving reader: ragged rows reported instead of fatal, every value kept as text.

    Decoding is strict, with a second encoding guess if the first fails late. The file is streamed,
    never held whole: its encoding is settled by one decoding pass first.
    """
    encodings = [src.encoding or "utf-8"]
    if encodings[0] in ("utf-8", "utf-8-sig"):
        encodings.append("cp949")
    last_error: Exception | None = None
    for encoding in encodings:
        try:
            _decode_all(src.path, encoding)
            src.encoding = encoding
            break
        except UnicodeDecodeError as exc:
            last_error = exc
    else:
        raise InputError(
            f"the file is not valid {' or '.join(encodings)} text ({last_error})",
            file=src.name,
            expected="UTF-8 or CP949; pass --encoding",
        )
    with open(src.path, encoding=src.encoding, errors="strict", newline="") as fh:
        if fh.read(1) != "\ufeff":  # a byte-order mark the encoding does not remove
            fh.seek(0)
        yield from _text_rows(src, csv.reader(fh, delimiter=src.delimiter), chunk_rows)


def _decode_all(path: Path, encoding: str) -> None:
    """Raise :class:`UnicodeDecodeError` unless the whole file decodes strictly in ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            decoder.decode(block)
    decoder.decode(b"", final=True)


def _text_rows(src: Source, reader: Iterator[list[str]], chunk_rows: int) -> Iterator[Chunk]:
    width = len(src.headers)
    for _ in range(src.header_row + 1):
        next(reader, None)
    rows: list[list[str]] = []
    errors: list[tuple[int, int, int]] = []
    row_no = 1
    first = 1
    for fields in reader:
        if len(fields) != width and any(f.strip() for f in fields):
            if len(fields) > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]  # trailing empty cells
            elif len(fields) < width:
                fields = fields + [""] * (width - len(fields))
            else:
                errors.append((row_no, len(fields), width))
                fields = [""] * width
        elif len(fields) != width:
            fields = [""] * width
        rows.append(fields)
        row_no += 1
        if len(rows) >= chunk_rows:
            done = min(src.size, int((first + len(rows) + src.header_row) * src.row_bytes))
            yield Chunk(_text_frame(rows, src.headers), first, errors, bytes_read=done)
            first += len(rows)
            rows, errors = [], []
    if rows or first == 1:
        yield Chunk(_text_frame(rows, src.headers), first, errors, bytes_read=src.size)


def _text_frame(rows: list[list[str | None]], headers: list[str]) -> pd.DataFrame:
    """Rows of text → a frame of Arrow strings, empty cells missing."""
    if not rows:
        return pd.DataFrame({h: pd.Series(dtype="string[pyarrow]") for h in headers})
    columns = list(zip(*rows, strict=True))
    data = {}
    for i, h in enumerate(headers):
        arr = pa.array(columns[i], type=pa.large_string())
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.large_string()), arr)
        data[h] = pd.arrays.ArrowStringArray(arr)
    return pd.DataFrame(data)


def _excel_chunks(src: Source, chunk_rows: int) -> Iterator[Chunk]:
    rows, _ = _excel_rows(src.path, src.sheet)
    width = len(src.headers)
    body = [list(r[:width]) + [None] * (width - len(r[:width])) for r in rows[src.header_row + 1 :]]
    # Excel's used range often runs past the data with empty rows.
    while body and all(v is None or (isinstance(v, str) and not v.strip()) for v in body[-1]):
        body.pop()
    for start in range(0, max(len(body), 1), chunk_rows):
        part = body[start : start + chunk_rows]
        # Cells become text like a CSV's, so one set of parsers serves every format.
        text = [[_cell_text(v) for v in row] for row in part]
        frame = _text_frame(text, src.headers) if part else pd.DataFrame(columns=src.headers, dtype="string[pyarrow]")
        yield Chunk(frame, start + 1, bytes_read=src.size if start + chunk_rows >= len(body) else 0)


def _parquet_chunks(src: Source, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(src.path)
    row = 1
    total = max(file.metadata.num_rows, 1)
    for batch in file.iter_batches(batch_size=chunk_rows):
        table = pa.Table.from_batches([batch]).rename_columns(src.headers)
        n = table.num_rows
        yield Chunk(_arrow_to_pandas(table), row, bytes_read=int(src.size * min(1.0, (row + n - 1) / total)))
        row += n
    if row == 1:
        yield Chunk(pd.DataFrame(columns=src.headers), 1, bytes_read=src.size)


def read_raw(path: str | os.PathLike, *, encoding: str | None = None, sheet: str | int | None = None) -> pd.DataFrame:
    """The file as a table of strings with its own headers.

    Decoded (UTF-8, BOM, CP949), delimiter and header row found, headers and values NFC-normalised,
    empty cells missing. Excel numbers are written without a trailing ``.0`` and dates as ISO text.
    """
    src = open_source(path, encoding=encoding, sheet=sheet)
    try:
        chunks = list(iter_chunks(src, chunk_rows=1 << 30, typed=False))
    except FallBack:
        chunks = list(iter_chunks(src, chunk_rows=1 << 30, forgiving=True))
    frame = pd.concat([c.frame for c in chunks], ignore_index=True) if len(chunks) > 1 else chunks[0].frame
    for col in frame.columns:
        if not pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].astype("object").map(_cell_text, na_action="ignore")
    frame = frame.astype(pd.StringDtype("python"))
    for col in frame.columns:
        if frame[col].notna().any():
            frame[col] = frame[col].str.normalize("NFC")
    return frame.mask(frame == "")
