"""Entry point of the carsight dashboard (``streamlit run`` target).

Page set-up, the served Korean font, the language switch and the page navigation. Each page lives in
``pages/``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from carsight.config import get_settings
from carsight.dashboard import data, state
from carsight.dashboard.fonts import css
from carsight.i18n import LANGS, t

HERE = Path(__file__).parent

# (file, catalogue key of the title, icon); the order is the order in the sidebar.
PAGES = (
    ("pages/overview.py", "dash.page.overview", ":material/dashboard:"),
    ("pages/customers.py", "dash.page.customers", ":material/groups:"),
    ("pages/desk.py", "dash.page.desk", ":material/support_agent:"),
    ("pages/campaigns.py", "dash.page.campaigns", ":material/campaign:"),
    ("pages/market.py", "dash.page.market", ":material/public:"),
    ("pages/forecast.py", "dash.page.forecast", ":material/trending_up:"),
    ("pages/voc.py", "dash.page.voc", ":material/forum:"),
    ("pages/models.py", "dash.page.models", ":material/model_training:"),
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

pages = [
    st.Page(HERE / path, title=t(key, lang), icon=icon, url_path=Path(path).stem, default=i == 0)
    for i, (path, key, icon) in enumerate(PAGES)
]
current = st.navigation(pages, position="sidebar", expanded=True)

with st.sidebar:
    state.pipeline_banner()
    state.results_stamp()
    if state.show_internals():
        st.caption(t("dash.app.warehouse", lang, location=data.location()))
    st.caption(t("app.tagline", lang))

current.run()
