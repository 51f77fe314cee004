"""Session state shared by every page.

Whose run it is (the scope every read goes through), the language, the filters a user set on one page and expects to find on the next, and the wrapper
that turns failures into a notice on the page.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from carsight.access.scope import Scope
from carsight.config import get_settings
from carsight.errors import AccessDenied, CarsightError, InputError
from carsight.i18n import LANGS, t, word
from carsight.warehouse.sharing import duckdb_file

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


def who() -> tuple[Scope, bool]:
    """Whose run this is, and whether a user signed in for it (False in the local one-person mode).

    Asked of the access store at every call (two indexed SQLite reads), never remembered between
    runs: an ended session or a disabled user is refused by the very next read, and a page that
    Streamlit runs without app.py (its pages-folder mode) is checked all the same. When nobody is
    signed in, draws the sign-in page and stops the run.
    """
    from carsight.dashboard import signin

    found = signin.current_scope()
    if found is None:
        signin.page()
        st.stop()
    return found


def scope() -> Scope:
    """The scope of this run: every page passes it to :class:`carsight.dashboard.data.Reader`."""
    return who()[0]


def signed_in() -> bool:
    """Whether a user signed in for this run (False in the local one-person mode)."""
    return who()[1]


def show_internals() -> bool:
    """Whether the page may show internals (the warehouse location, model files, fingerprints, parameters).

    Signed in: only an admin sees them. In the local one-person mode, only a dashboard started with
    ``settings.debug`` (``CARSIGHT_DEBUG=1``) shows them; docs/dashboard.md says so.
    """
    current, signed = who()
    if signed:
        return current.role == "admin"
    return get_settings().debug


def rfm_word(kind: str, value) -> str:
    """An RFM grade, named segment or group in the current language (the customers catalogue's words.

    ``rfm.grade.*``, ``rfm.segment.*``, ``rfm.group.*``); unknown values pass through.
    """
    return word(f"rfm.{kind}", value, lang())


@contextmanager
def guarded() -> Iterator[None]:
    """Run a page body: missing tables and a warehouse not readable yet become notices, never tracebacks."""
    from carsight.dashboard.data import MissingTable
    from carsight.warehouse.reading import NotPublishedYet

    try:
        yield
    except AccessDenied:  # the role's work does not need this block (carsight.access.policy)
        st.info(tr("notice.not_for_role", role=tr(f"role.{scope().role}")), icon=":material/lock:")
    except MissingTable as exc:
        if exc.is_result:
            result_missing(exc.table)
        else:
            st.warning(tr("notice.no_source", table=exc.table))
    except NotPublishedYet:
        st.info(tr("notice.not_published_yet"), icon=":material/hourglass_top:")
    except InputError as exc:
        st.error(str(exc))
    except CarsightError as exc:
        st.error(tr("notice.error", message=str(exc)))
    except Exception as exc:  # a bug: one line for the user, details for whoever runs the server
        if get_settings().debug:
            raise
        traceback.print_exc()
        st.error(tr("notice.unexpected", kind=type(exc).__name__, message=str(exc)))


def result_missing(table: str) -> None:
    """Say why a result table is not there yet.

    Its pipeline step is still to come or running, it failed (with the reason), or the pipeline has
    not run.
    """
    from carsight.dashboard import data
    from carsight.warehouse import schema as S

    with data.Reader(scope=scope()) as r:
        step = data.step_writing(r, table)
    if step is None or step["status"] == S.DONE:
        st.info(tr("notice.run_pipeline", table=table))
    elif step["status"] == S.FAILED:
        st.warning(tr("notice.step_failed", step=tr(f"step.{step['step']}"), message=step["message"]))
    else:
        st.info(tr("notice.computing", step=tr(f"step.{step['step']}")), icon=":material/hourglass_top:")


def pipeline_banner() -> None:
    """While a pipeline run is under way: how many steps are done and which one runs now."""
    from carsight.dashboard import data
    from carsight.warehouse import schema as S

    try:
        with data.Reader(scope=scope()) as r:
            status = data.pipeline_status(r)
    except CarsightError:  # a missing warehouse, or one with nothing published yet: the page says so
        return
    if status.empty or not status.status.isin([S.PENDING, S.RUNNING]).any():
        return
    running = status[status.status == S.RUNNING]
    now = running.step.iloc[0] if len(running) else status[status.status == S.PENDING].step.iloc[0]
    done = int((status.status == S.DONE).sum())
    st.info(tr("app.pipeline_running", done=done, total=len(status), step=tr(f"step.{now}")))


def results_stamp() -> None:
    """Say when the results every page shows were published (the snapshot's time).

    Or that the warehouse itself is read because nothing was published yet.
    """
    from carsight.dashboard import data

    r = data.Reader(scope=scope())
    if r.publication is not None:
        st.caption(tr("app.as_of", time=f"{r.publication.time:%Y-%m-%d %H:%M}"))
    elif duckdb_file(r.location) is not None:
        st.caption(tr("app.unpublished"))


@contextmanager
def section() -> Iterator[None]:
    """Like :func:`guarded`, for one block of a page, so one missing table hides one block only."""
    with guarded():
        yield
