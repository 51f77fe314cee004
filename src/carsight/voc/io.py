"""Reading text files for the file-in, file-out VoC commands.

Through the same reader as ``carsight ingest`` (CP949/UTF-8/BOM, delimiters, Excel, NFC), with clear
errors for missing columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from carsight.errors import InputError


def read_texts(path: str | Path, columns: list[str], *, filters: dict[str, str] | None = None) -> pd.DataFrame:
    """The file at ``path`` with ``columns`` checked present; rows kept where each ``filters`` column equals its value."""
    from carsight.ingest import read_raw

    frame = read_raw(path)
    wanted = [c for c in columns if c] + list((filters or {}).keys())
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(
            f"no column named '{missing[0]}'",
            file=str(path),
            column=missing[0],
            expected="one of: " + ", ".join(map(str, frame.columns)),
        )
    for column, value in (filters or {}).items():
        frame = frame[frame[column].astype("string").str.strip() == value]
    return frame.reset_index(drop=True)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV with a BOM, so Excel on Korean Windows opens the Hangul correctly; .xlsx or .parquet by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path
