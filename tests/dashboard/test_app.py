"""The dashboard run with Streamlit's AppTest: every page on the pipeline warehouse, figures that
match SQL, the language switch, the new-customer form, and notices instead of errors when the
pipeline has not run; pages keep reading while another process writes, and a save says it could not
write then."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from carsight.i18n import t
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_RFM, CUSTOMER_SEGMENTS
from carsight.warehouse.results_value import PROPENSITY_SCORES

PAGES = ("overview", "customers", "desk", "campaigns", "market", "forecast", "voc", "models")
# Pages that draw at least one chart once the pipeline has run.
CHART_PAGES = ("overview", "customers", "campaigns", "market", "voc", "models")

pytestmark = pytest.mark.slow


def _walk(node, out=None):
    out = [] if out is None else out
    for child in getattr(node, "children", {}).values():
        out.append(child)
        _walk(child, out)
    return out


def _no_failures(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    unexpected = t("dash.notice.unexpected", "ko", kind="", message="").split("(")[0]
    assert not [e.value for e in at.error if e.value.startswith(unexpected)]


def _sql(path, query: str):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(query).fetchone()[0]


def test_every_page_renders_on_the_pipeline_warehouse(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path).run()
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        _no_failures(at)
        assert at.title[0].value == t(f"dash.page.{page}", "ko")
        # Every result table this page reads exists after the pipeline: no "run the pipeline" notice
        # for tables the pipeline writes.
        notices = [i.value for i in at.info if "carsight pipeline run" in i.value]
        assert not notices, (page, notices)
        if page in CHART_PAGES:
            assert at.get("plotly_chart"), f"{page} shows no chart"


def test_overview_kpis_match_sql(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path).run()
    _no_failures(at)
    metrics = {m.label: m.value for m in at.metric}
    customers = _sql(pipeline_wh_path, f"SELECT COUNT(*) FROM {S.CUSTOMERS.name}")
    assert metrics[t("dash.kpi.customers", "ko")] == f"{customers:,}"
    vip, total = (
        _sql(pipeline_wh_path, f"SELECT COUNT(*) FILTER (WHERE \"group\" = 'VIP') FROM {CUSTOMER_RFM.name}"),
        _sql(pipeline_wh_path, f"SELECT COUNT(*) FROM {CUSTOMER_RFM.name}"),
    )
    assert metrics[t("dash.kpi.vip_share", "ko")] == f"{vip / total * 100:.1f}%"
    churn = _sql(pipeline_wh_path, f"SELECT COUNT(*) FILTER (WHERE \"group\" = 'Churn risk') FROM {CUSTOMER_RFM.name}")
    assert metrics[t("dash.kpi.churn_risk", "ko")] == f"{churn:,}"
    last = _sql(pipeline_wh_path, f"SELECT MAX(month) FROM {S.SALES_MONTHLY.name}")
    units = _sql(pipeline_wh_path, f"SELECT SUM(units) FROM {S.SALES_MONTHLY.name} WHERE month = DATE '{last}'")
    assert metrics[t("dash.kpi.sales_month", "ko", month=last.strftime("%Y-%m"))] == f"{int(units):,}"


def test_language_switch_changes_labels(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path, lang="ko").run()
    assert at.title[0].value == "개요"
    at.radio(key="lang").set_value("en").run()
    _no_failures(at)
    assert at.title[0].value == "Overview"
    assert t("dash.kpi.customers", "en") in [m.label for m in at.metric]
    at.switch_page("pages/market.py").run()
    assert at.title[0].value == "Market"  # the choice holds on the next page


def test_market_filter_is_remembered_across_pages(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path).run()
    at.switch_page("pages/market.py").run()
    box = at.selectbox(key="f_market")
    other = box.options[-1]
    box.set_value(other).run()
    assert other in at.subheader[0].value
    at.switch_page("pages/overview.py").run()
    at.switch_page("pages/market.py").run()
    assert at.selectbox(key="f_market").value == other


def test_campaign_target_list_matches_sql(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path).run()
    at.switch_page("pages/campaigns.py").run()
    _no_failures(at)
    at.slider(key="camp_cut").set_value(2).run()
    target = at.selectbox(key="f_target").value
    expected = _sql(
        pipeline_wh_path,
        f"SELECT COUNT(*) FROM {PROPENSITY_SCORES.name} s JOIN {S.CUSTOMERS.name} c USING (customer_id) "
        f"WHERE s.target = '{target}' AND s.grade <= 2 AND c.marketing_opt_in",
    )
    assert t("dash.camp.list_size", "ko", n=expected) in [c.value for c in at.caption]
    contacted = _sql(
        pipeline_wh_path, f"SELECT COUNT(*) FROM {PROPENSITY_SCORES.name} WHERE target = '{target}' AND grade <= 2"
    )
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("dash.camp.contacted", "ko")] == f"{contacted:,}"


def _fill_new_customer(at, age: str):
    at.switch_page("pages/desk.py").run()
    at.text_input(key="nc_customer_id").set_value("DESK0001")
    at.text_input(key="nc_name").set_value("홍길동")
    at.text_input(key="nc_age").set_value(age)
    at.selectbox(key="nc_gender").set_value("F")
    return at


def test_new_customer_with_invalid_age_shows_error_under_the_field(app_for, pipeline_wh_path):
    at = _fill_new_customer(app_for(pipeline_wh_path).run(), "12")
    at.button(key="desk_check").click().run()
    _no_failures(at)
    message = t("dash.form.error.age", "ko", low=16, high=100)
    # The message sits right below the age input, in the same column of the form.
    column = next(
        n
        for n in _walk(at.main)
        if n.type == "column" and any(getattr(c, "key", None) == "nc_age" for c in n.children.values())
    )
    children = list(column.children.values())
    age_index = next(i for i, c in enumerate(children) if getattr(c, "key", None) == "nc_age")
    assert children[age_index + 1].type == "error"
    assert children[age_index + 1].value == message
    assert at.session_state["desk_answer"] is None  # no segment for an invalid form


def test_valid_new_customer_gets_a_segment_and_models(app_for, pipeline_wh_path):
    at = _fill_new_customer(app_for(pipeline_wh_path).run(), "42")
    at.button(key="desk_check").click().run()
    _no_failures(at)
    assert not [e for e in at.error if e.value == t("dash.form.has_errors", "ko")]
    segment = [m.value for m in at.metric if m.label == t("dash.desk.segment", "ko")]
    known = {
        f"#{i}"
        for (i,) in duckdb.connect(str(pipeline_wh_path), read_only=True)
        .execute(f"SELECT DISTINCT segment_id FROM {CUSTOMER_SEGMENTS.name}")
        .fetchall()
    }
    assert segment and segment[-1] in known
    assert len(at.dataframe[-1].value) == 5  # five recommended models


def test_saving_a_new_customer_writes_to_the_warehouse(app_for, pipeline_wh_path, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(pipeline_wh_path, path)
    shutil.copytree(pipeline_wh_path.parent / "models", tmp_path / "models")
    at = _fill_new_customer(app_for(path).run(), "42")
    at.text_input(key="nc_email").set_value("hong@example.com")
    at.button(key="desk_save").click().run()
    _no_failures(at)
    assert [s.value for s in at.success] == [t("dash.form.saved_inserted", "ko", id="DESK0001")]
    row = (
        duckdb.connect(str(path), read_only=True)
        .execute(f"SELECT name, email, birth_year FROM {S.CUSTOMERS.name} WHERE customer_id = 'DESK0001'")
        .fetchone()
    )
    assert row[0] == "홍길동" and row[1] == "hong@example.com" and row[2] is not None
    # The same id again is refused beside the id field, and the stored customer is untouched.
    at.text_input(key="nc_name").set_value("다른 사람")
    at.button(key="desk_save").click().run()
    assert t("dash.form.error.taken", "ko", id="DESK0001") in [e.value for e in at.error]
    name = (
        duckdb.connect(str(path), read_only=True)
        .execute(f"SELECT name FROM {S.CUSTOMERS.name} WHERE customer_id = 'DESK0001'")
        .fetchone()[0]
    )
    assert name == "홍길동"


def test_pages_before_the_pipeline_say_to_run_it(app_for, small_wh_path):
    at = app_for(small_wh_path).run()
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        _no_failures(at)
        assert at.title[0].value == t(f"dash.page.{page}", "ko")
        if page in ("customers", "campaigns", "forecast", "voc"):
            assert any("carsight pipeline run" in i.value for i in at.info), page
    at.switch_page("pages/market.py").run()
    assert at.get("plotly_chart"), "market charts come from source tables and need no pipeline"


def test_pages_keep_reading_while_another_process_writes(app_for, small_wh_path, tmp_path, holding):
    """A pipeline run or a load holds the file: every page reads the last published results, with no
    notice about the writer, and the sidebar says when those results were published."""
    from carsight.warehouse import Warehouse
    from carsight.warehouse.sharing import latest_publication

    path = tmp_path / "held.duckdb"
    shutil.copy(small_wh_path, path)
    with Warehouse(str(path)) as wh:  # a write publishes when it closes
        wh.upsert(S.CUSTOMERS, wh.table(S.CUSTOMERS.name).limit(1).to_pandas().assign(customer_id="NEW1"))
    stamp = t("dash.app.as_of", "ko", time=f"{latest_publication(path).time:%Y-%m-%d %H:%M}")
    with holding(path):
        at = app_for(path).run()
        _no_failures(at)
        assert stamp in [c.value for c in at.sidebar.caption]
        # The 40 built customers and the one written (and published) before the writer came.
        assert {m.label: m.value for m in at.metric}[t("dash.kpi.customers", "ko")] == "41"
        for page in PAGES:
            at.switch_page(f"pages/{page}.py").run()
            _no_failures(at)
            assert not at.warning and not at.error, (page, [w.value for w in (*at.warning, *at.error)])


def test_saving_a_customer_while_another_process_writes_says_so(app_for, pipeline_wh_path, tmp_path, holding):
    """Saving is a write: while a pipeline run holds the file the form says it was not written and
    why (reads go on)."""
    from carsight.warehouse import Warehouse

    path = tmp_path / "copy.duckdb"
    shutil.copy(pipeline_wh_path, path)
    Warehouse(str(path)).close()  # a writer publishes a copied file's first snapshot when it opens it
    shutil.copytree(pipeline_wh_path.parent / "models", tmp_path / "models")
    at = _fill_new_customer(app_for(path).run(), "42")
    with holding(path):
        at.button(key="desk_save").click().run()
    _no_failures(at)
    assert [w.value for w in at.warning] == [t("dash.notice.write_busy", "ko")]
    assert _sql(path, f"SELECT COUNT(*) FROM {S.CUSTOMERS.name} WHERE customer_id = 'DESK0001'") == 0


def _storage_names() -> set[str]:
    """Every column name of every table, and the per-language variants the pages read."""
    names = {c.name for table in S.all_tables().values() for c in table.columns}
    return names | {"reason_ko", "reason_en", "profile_ko", "profile_en", "as_of"}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_pages_show_catalogue_headings_and_dates_without_times(app_for, pipeline_wh_path, lang):
    """No storage column name (``target``, ``as_of``, ``reason1_ko``) heads a table on any page, and
    no date shows a midnight time."""
    storage = _storage_names()
    at = app_for(pipeline_wh_path, lang=lang).run()
    at.switch_page("pages/desk.py").run()  # the desk first: it shows the most stored columns
    for page in ("desk", *PAGES):
        at.switch_page(f"pages/{page}.py").run()
        _no_failures(at)
        for table in at.dataframe:
            frame = table.value
            headings = [str(c) for c in frame.columns]
            raw = [h for h in headings if h in storage]
            assert not raw, (page, raw)
            for column in frame.columns:
                values = frame[column].dropna()
                assert not values.astype(str).str.endswith("00:00:00").any(), (page, column)
        texts = [e.value for kind in ("caption", "markdown", "info", "subheader") for e in at.get(kind)]
        assert not [x for x in texts if str(x).startswith("dash.")], page  # a message missing from the catalogue


def test_internals_only_in_debug_mode(app_for, pipeline_wh_path, monkeypatch):
    """No users and roles yet: the warehouse location and model files show only with settings.debug."""
    from carsight.config import reset_settings_cache

    def shown(debug: str) -> str:
        at = app_for(pipeline_wh_path)
        monkeypatch.setenv("CARSIGHT_DEBUG", debug)
        reset_settings_cache()
        at.run()
        at.switch_page("pages/models.py").run()
        _no_failures(at)
        texts = [c.value for c in at.caption] + [str(d.value.to_dict()) for d in at.dataframe]
        return "\n".join(texts)

    folder = str(pipeline_wh_path.parent)
    assert folder not in shown("0")
    assert folder in shown("1")


def test_a_page_says_its_results_are_being_computed_while_the_pipeline_runs(app_for, small_wh_path, tmp_path):
    """A run in progress: customers running, propensity still to come. Their pages say so, and the
    sidebar says how far the run is."""
    import pandas as pd

    from carsight.pipeline import STEPS
    from carsight.warehouse import connect

    path = tmp_path / "running.duckdb"
    shutil.copy(small_wh_path, path)
    steps = [s for s in STEPS if s.name in ("customers", "propensity")]
    status = pd.DataFrame(
        {
            "run_id": "r1",
            "position": [1, 2],
            "step": [s.name for s in steps],
            "status": [S.RUNNING, S.PENDING],
            "tables": [",".join(t.name for t in s.tables) for s in steps],
            "started_at": [pd.Timestamp("2026-01-01 09:00"), pd.NaT],
        }
    )
    with connect(str(path), init=True) as wh:
        wh.replace(S.PIPELINE_STATUS, status)
    at = app_for(path).run()
    running = t("dash.app.pipeline_running", "ko", done=0, total=2, step=t("dash.step.customers", "ko"))
    assert running in [i.value for i in at.sidebar.info]
    for page, step in (("customers", "customers"), ("campaigns", "propensity")):
        at.switch_page(f"pages/{page}.py").run()
        _no_failures(at)
        notices = [i.value for i in at.info]
        assert t("dash.notice.computing", "ko", step=t(f"dash.step.{step}", "ko")) in notices, (page, notices)
        assert not [n for n in notices if "carsight pipeline run" in n]
