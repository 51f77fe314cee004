"""The Overview page's monitoring panel: the open alerts of `carsight monitor run`, in the page's
language, and a note when monitoring has not run yet."""

from __future__ import annotations

import datetime as dt
import shutil

from carsight.config import MonitorSettings, Settings
from carsight.i18n import t
from carsight.monitor import read_alerts, run_monitor


def test_overview_shows_open_monitoring_alerts(app_for, pipeline_wh_path, tmp_path):
    from carsight.warehouse import connect

    path = tmp_path / "monitored.duckdb"
    shutil.copy(pipeline_wh_path, path)
    settings = Settings(warehouse=str(path), model_dir=pipeline_wh_path.parent / "models", monitor=MonitorSettings())
    with connect(str(path)) as wh:
        run_monitor(wh, settings, as_of=dt.date(2026, 6, 1), mail=False)  # five months on: stale feeds
        open_alerts = read_alerts(wh)
    assert len(open_alerts)
    for lang in ("ko", "en"):
        at = app_for(path, lang=lang, model_dir=pipeline_wh_path.parent / "models").run()
        assert not at.exception
        assert t("dash.overview.monitoring", lang) in [s.value for s in at.subheader]
        shown = " ".join(e.value for e in [*at.error, *at.warning, *at.info])
        for message in open_alerts[f"message_{lang}"]:
            assert message in shown


def test_overview_says_when_monitoring_has_not_run(app_for, pipeline_wh_path):
    at = app_for(pipeline_wh_path, lang="en").run()
    assert not at.exception
    assert t("dash.overview.monitoring_never", "en") in [c.value for c in at.caption]
