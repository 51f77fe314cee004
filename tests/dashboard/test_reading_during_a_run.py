"""Readers never wait for writers: while a real ``carsight pipeline run`` (another process, on a copy of
the small demo warehouse) holds the file, every dashboard page (AppTest) and the API (TestClient) are
read again and again. No page fails or says anything about the writer, no API answer fails, and they
serve the last complete results; after the run they serve the new ones, stamped with the new time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from carsight.api import create_app
from carsight.api.deps import RESULTS_AS_OF
from carsight.config import Settings
from carsight.i18n import t
from carsight.warehouse import Warehouse, open_reader
from carsight.warehouse import schema as S
from carsight.warehouse.results_customers import CUSTOMER_RFM
from carsight.warehouse.sharing import latest_publication

from ..api.conftest import AUTH, TOKEN
from .test_app import PAGES, _no_failures

pytestmark = pytest.mark.slow

NEW = "RUN-NEW-1"


def _add_a_customer_the_run_will_score(path: Path) -> None:
    """A new customer with a purchase: in the source tables now, in the RFM results after the run."""
    with Warehouse(str(path)) as wh:
        someone = wh.table(S.CUSTOMERS.name).order_by("customer_id").limit(1).to_pandas()
        wh.upsert(S.CUSTOMERS, someone.assign(customer_id=NEW, name="새고객"))
        bought = wh.table(S.PURCHASES.name).order_by("purchase_id").limit(1).to_pandas()
        wh.upsert(S.PURCHASES, bought.assign(purchase_id=f"{NEW}-P1", customer_id=NEW))


def _start_run(path: Path, models: Path) -> subprocess.Popen:
    env = dict(os.environ, CARSIGHT_WAREHOUSE=str(path), CARSIGHT_MODEL_DIR=str(models))
    carsight = Path(sys.executable).with_name("carsight")
    return subprocess.Popen(
        [str(carsight), "pipeline", "run", "--step", "customers"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_pages_and_the_api_serve_the_last_results_during_a_pipeline_run(app_for, pipeline_wh_path, tmp_path):
    path = tmp_path / "running.duckdb"
    shutil.copy(pipeline_wh_path, path)
    models = tmp_path / "models"
    shutil.copytree(pipeline_wh_path.parent / "models", models)
    _add_a_customer_the_run_will_score(path)
    before = latest_publication(path)
    with open_reader(str(path)) as r:
        rfm = r.table(CUSTOMER_RFM.name)
        old = rfm.filter(rfm.customer_id != NEW).order_by("customer_id").limit(1).to_pandas().iloc[0]
        assert r.table(CUSTOMER_RFM.name).filter(rfm.customer_id == NEW).count().execute() == 0
    settings = Settings(warehouse=str(path), model_dir=models, api_token=TOKEN)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=True) as api:
        app.state.store.check_every = 0.0  # look for new results on every request
        at = app_for(path, model_dir=models).run()
        run = _start_run(path, models)
        try:
            while latest_publication(path) == before:  # the run has the file once it published its start
                assert run.poll() is None, run.stdout.read()
                time.sleep(0.2)
            # A dashboard started in the middle of the run: the last results, their time, the run's progress.
            started = latest_publication(path)
            fresh = app_for(path, model_dir=models).run()
            _no_failures(fresh)
            captions = [c.value for c in fresh.sidebar.caption]
            assert t("dash.app.as_of", "ko", time=f"{started.time:%Y-%m-%d %H:%M}") in captions or (
                latest_publication(path) != started
            ), captions
            if latest_publication(path) == started:  # the step was still running all along
                running = t("dash.app.pipeline_running", "ko", done=0, total=1, step=t("dash.step.customers", "ko"))
                assert running in [i.value for i in fresh.sidebar.info]
            rounds, stamps = 0, set()
            while run.poll() is None or rounds == 0:
                rounds += 1
                for page in PAGES:
                    at.switch_page(f"pages/{page}.py").run()
                    _no_failures(at)
                    # Alerts are errors too (a forecast worse than its baseline); a failed read is not.
                    failed = t("dash.notice.error", "ko", message="")
                    assert not [e.value for e in at.error if e.value.startswith(failed)], page
                    notices = [n.value for n in (*at.info, *at.warning)]
                    assert t("dash.notice.not_published_yet", "ko") not in notices, page
                answer = api.get(f"/customers/{old.customer_id}", headers=AUTH)
                assert answer.status_code == 200, answer.text
                assert answer.headers[RESULTS_AS_OF] != "unpublished"
                stamps.add(answer.headers[RESULTS_AS_OF])
                assert answer.json()["rfm"]["grade"]  # last complete results, never an empty table
                assert api.get(f"/customers/{NEW}", headers=AUTH).status_code == 200
            output = run.communicate()[0]
            assert run.returncode == 0, output
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        # After the run: the new results, and the time they were published.
        final = latest_publication(path)
        assert final.writer == "pipeline" and final.detail == "1/1"
        deadline = time.monotonic() + 60
        while app.state.store.snapshot.stamp != final.file:
            api.get("/health")  # starts the reload in the background
            assert time.monotonic() < deadline, "the API did not pick up the new results"
            time.sleep(0.2)
        answer = api.get(f"/customers/{NEW}", headers=AUTH)
        assert answer.json()["rfm"] is not None
        assert pd.Timestamp(answer.headers[RESULTS_AS_OF]) == pd.Timestamp(final.published_at)
        at = app_for(path, model_dir=models).run()  # the entry script draws the sidebar
        _no_failures(at)
        assert t("dash.app.as_of", "ko", time=f"{final.time:%Y-%m-%d %H:%M}") in [c.value for c in at.sidebar.caption]
        assert not at.sidebar.info  # the run's banner is gone
    assert rounds >= 1
