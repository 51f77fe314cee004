"""The carsight web dashboard (Streamlit).

One page per user question, reading the warehouse read-only through cached, pre-aggregated queries.
Started by ``carsight serve dashboard``.
"""

from __future__ import annotations

from pathlib import Path

APP_DIR = Path(__file__).parent
APP_PATH = APP_DIR / "app.py"

__all__ = ["APP_DIR", "APP_PATH"]
