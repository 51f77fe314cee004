"""Entry point of the carsight dashboard (``streamlit run`` target).

Page set-up, the served Korean font, the language switch, the sign-in (before anything reads the
warehouse) and the page navigation by role. Each page lives in ``pages/``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from carsight.access.scope import ROLES
from carsight.config import get_settings
from carsight.dashboard import data, signin, state
from carsight.dashboard.fonts import css
from carsight.i18n import LANGS, t

HERE = Path(__file__).parent

# (file, catalogue key of the title, icon, roles that use it); the order is the order in the sidebar,
# and a role's first page is its start page. The row filters and masks are the scoped reader's
# (carsight.access.policy); this says which pages a role's work needs: HQ plans from aggregates
# (no customer-by-customer desk); a dealer works its own customers, campaigns and market, not the
# model bench; a call-centre agent looks customers up and reads consultations, never campaigns.
SALES = ("admin", "hq", "dealer")
PAGES = (
    ("pages/overview.py", "dash.page.overview", ":material/dashboard:", SALES),
    ("pages/customers.py", "dash.page.customers", ":material/groups:", SALES),
    ("pages/desk.py", "dash.page.desk", ":material/support_agent:", ("admin", "dealer", "agent")),
    ("pages/campaigns.py", "dash.page.campaigns", ":material/campaign:", SALES),
    ("pages/market.py", "dash.page.market", ":material/public:", SALES),
    ("pages/forecast.py", "dash.page.forecast", ":material/trending_up:", SALES),
    ("pages/voc.py", "dash.page.voc", ":material/forum:", ROLES),
    ("pages/models.py", "dash.page.models", ":material/model_training:", ("admin", "hq")),
)

st.set_page_config(page_title="carsight", page_icon=":material/directions_car:", layout="wide")
st.html(css())

if state.LANG not in st.session_state:
    st.session_state[state.LANG] = get_settings().lang
lang = state.lang()

with st.sidebar:
    st.radio(
        t("dash.app.language", lang),
        options=list(LANGS),
        format_func=lambda code: {"ko": "한국어", "en": "English"}[code],
        key=state.LANG,
        horizontal=True,
        persist_state=state.PERSIST,
    )
    lang = state.lang()

# Whose run this is, before anything reads the warehouse.
who = signin.current_scope()
if who is None:
    # Nobody signed in: every page's URL shows the sign-in page and nothing else (a bookmarked page
    # opens once signed in, if the role has it).
    st.navigation(
        [
            st.Page(signin.page, title=t("dash.signin.title", lang), url_path=Path(path).stem, default=i == 0)
            for i, (path, *_) in enumerate(PAGES)
        ],
        position="hidden",
    ).run()
    st.stop()
scope, signed_in = who

mine = [(path, key, icon) for path, key, icon, roles in PAGES if scope.role in roles]
pages = [
    st.Page(HERE / path, title=t(key, lang), icon=icon, url_path=Path(path).stem, default=i == 0)
    for i, (path, key, icon) in enumerate(mine)
]
current = st.navigation(pages, position="sidebar", expanded=True)

with st.sidebar:
    if signed_in:
        signin.sidebar(scope)
    state.pipeline_banner()
    state.results_stamp()
    if state.show_internals():
        st.caption(t("dash.app.warehouse", lang, location=data.location()))
    st.caption(t("app.tagline", lang))

signin.audit("page", current.url_path or "overview")
current.run()
