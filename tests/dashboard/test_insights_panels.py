"""The insights panels on the pipeline warehouse: the Campaigns page lists the trigger rules and turns
the chosen one into a target list that matches a recount; the Market page draws the "what changed"
waterfall from the drivers step, in both languages."""

from __future__ import annotations

import json

import duckdb
import pytest

from carsight.customers.triggers import rule_mask
from carsight.i18n import t
from carsight.warehouse import schema as S
from carsight.warehouse.results_insights import DRIVER_SEGMENTS, TRIGGER_FEATURES, TRIGGER_RULES

pytestmark = pytest.mark.slow


def _no_failures(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_campaigns_trigger_target_list_matches_a_recount(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path).run()
    at.switch_page("pages/campaigns.py").run()
    _no_failures(at)
    assert t("dash.trig.title", "ko") in [s.value for s in at.subheader]
    rule = at.selectbox(key="trig_rule").value
    with duckdb.connect(str(pipeline_wh_path), read_only=True) as con:
        features = con.execute(f"SELECT * FROM {TRIGGER_FEATURES.name}").df()
        opted = con.execute(f"SELECT customer_id FROM {S.CUSTOMERS.name} WHERE marketing_opt_in").df()
        stored = con.execute(f"SELECT conditions FROM {TRIGGER_RULES.name} WHERE representative").df()
    assert rule in set(stored.conditions)
    meets = features[rule_mask(features, rule)]
    expected = int(meets.customer_id.isin(opted.customer_id).sum())
    assert t("dash.trig.list_size", "ko", n=expected) in [c.value for c in at.caption]
    at.checkbox(key="trig_opt_in").uncheck().run()
    assert t("dash.trig.list_size", "ko", n=len(meets)) in [c.value for c in at.caption]


def test_market_what_changed_waterfall_adds_up(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path, lang="en").run()
    at.switch_page("pages/market.py").run()
    _no_failures(at)
    assert "What changed" in [s.value for s in at.subheader]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    waterfalls = [s for s in specs if s["data"] and s["data"][0].get("type") == "waterfall"]
    assert len(waterfalls) == 1
    with duckdb.connect(str(pipeline_wh_path), read_only=True) as con:
        rows = con.execute(
            f"SELECT segment, change, base_total, current_total FROM {DRIVER_SEGMENTS.name} "
            "WHERE analysis = 'sales' AND comparison = 'year' ORDER BY rank"
        ).fetchall()
    trace = waterfalls[0]["data"][0]
    assert trace["x"][1 : 1 + len(rows)] == [r[0] for r in rows]
    assert trace["y"][0] == rows[0][2] and trace["y"][-1] == rows[0][3]
    assert sum(trace["y"][:-1]) == pytest.approx(rows[0][3])  # base + segments + everything else = current
    assert any(rows[0][0] in m.value for m in at.markdown)
    at.radio(key="drivers_analysis").set_value("purchases").run()
    _no_failures(at)
    assert any(c.value == t("dash.drivers.note", "en") for c in at.caption)
