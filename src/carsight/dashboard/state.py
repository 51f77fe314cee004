"""Session state shared by every page: the language, the filters a user set on one page and
expects to find on the next, and the wrapper that turns failures into a notice on the page."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from carsight.config import get_settings
from carsight.errors import CarsightError, InputError
from carsight.i18n import LANGS, t

LANG = "lang"
# Filter keys used by more than one page: widgets with these keys keep their value across pages
# (``persist_state="session"``), so a market chosen on Market is still chosen on Forecast.
MARKET = "f_market"
BRAND = "f_brand"
KIND = "f_kind"
MODEL = "f_model"
DATE_RANGE = "f_date_range"
TOPIC = "f_topic"
TARGET = "f_target"
CUSTOMER = "f_customer"
PERSIST = "session"


def lang() -> str:
    """The language chosen in the sidebar, else the configured default."""
    value = st.session_state.get(LANG)
    return value if value in LANGS else get_settings().lang


def tr(key: str, **values) -> str:
    """A dashboard message in the current language (keys live under ``dash.`` in dashboard.toml)."""
    return t(f"dash.{key}", lang(), **values)


def rfm_word(kind: str, value) -> str:
    """An RFM grade, named segment or group in the current language (the customers catalogue's
    words: ``rfm.grade.*``, ``rfm.segment.*``, ``rfm.group.*``); unknown values pass through."""
    key = f"rfm.{kind}.{value}"
    text = t(key, lang())
    return str(value) if text == key else text


@contextmanager
def guarded() -> Iterator[None]:
    """Run a page body: missing tables and a busy warehouse become notices, never tracebacks."""
    from carsight.dashboard.data import MissingTable, WarehouseBusy

    try:
        yield
    except MissingTable as exc:
        if exc.is_result:
            st.info(tr("notice.run_pipeline", table=exc.table))
        else:
            st.warning(tr("notice.no_source", table=exc.table))
    except WarehouseBusy:
        st.warning(tr("notice.busy"))
    except InputError as exc:
        st.error(str(exc))
    except CarsightError as exc:
        st.error(tr("notice.error", message=str(exc)))
    except Exception as exc:  # a bug: one line for the user, details for whoever runs the server
        if get_settings().debug:
            raise
        traceback.print_exc()
        st.error(tr("notice.unexpected", kind=type(exc).__name__, message=str(exc)))


@contextmanager
def section() -> Iterator[None]:
    """Like :func:`guarded`, for one block of a page, so one missing table hides one block only."""
    with guarded():
        yield
