"""End to end: ``carsight serve dashboard`` on a copy of the pipeline warehouse, driven by Debian's
chromium through Playwright. Opens every page, uses a filter, submits the new-customer form, checks
that the served Korean font is what the browser uses and that no page shows a file path, and saves
screenshots: in the test's temporary folder, or in ``$CARSIGHT_SCREENSHOTS_DIR`` when set (the
README's pictures: ``CARSIGHT_SCREENSHOTS_DIR=docs/screenshots``, see docs/dashboard.md)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from carsight.i18n import t

CHROMIUM = Path("/usr/bin/chromium")
PAGES = ("overview", "customers", "desk", "campaigns", "market", "forecast", "voc", "models")
CHART_PAGES = tuple(
    n
    for n in ("overview", "customers", "campaigns", "market", "forecast", "voc", "models")
    if n not in os.environ.get("CARSIGHT_TEST_SKIP_CHARTS", "").split(",")
)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the dashboard exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("the dashboard did not become healthy in time")


def serve(warehouse: Path, model_dir: Path, port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        CARSIGHT_WAREHOUSE=str(warehouse),
        CARSIGHT_MODEL_DIR=str(model_dir),
        CARSIGHT_LANG="ko",
        CARSIGHT_DEBUG="0",  # what every user sees: no internals
    )
    carsight = Path(sys.executable).with_name("carsight")
    return subprocess.Popen(
        [str(carsight), "serve", "dashboard", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def served(warehouse: Path, model_dir: Path) -> Iterator[str]:
    """``carsight serve dashboard`` on a free loopback port, healthy; yields its base URL, then stops it."""
    port = _free_port()
    proc = serve(warehouse, model_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def chromium():
    """Debian's chromium through Playwright (the test fails when it is not installed: never downloaded)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _idle(page) -> None:
    """Wait until the app's script run has finished (Streamlit marks it on the root element)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=90_000)


def _settle(page, title: str, chart: bool) -> None:
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=60_000)
    _idle(page)
    if chart:
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.wait_for_timeout(500)


def drive(browser, base: str, out_dir: Path, paths: tuple[str, ...] = ()) -> dict:
    """Open every page and do what a user would; returns what was observed (``paths_shown``: the
    pages whose text contains one of ``paths``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: dict = {"pages": {}, "paths_shown": []}
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    try:
        for name in PAGES:
            title = t(f"dash.page.{name}", "ko")
            page.goto(f"{base}/" if name == "overview" else f"{base}/{name}")
            try:
                _settle(page, title, name in CHART_PAGES)
            except Exception:
                page.screenshot(path=str(out_dir / f"failed-{name}.png"), full_page=True)
                raise
            errors = page.locator('[data-testid="stException"]').count()
            seen["pages"][name] = {"exceptions": errors}
            text = page.locator("body").inner_text()
            seen["paths_shown"] += [(name, path) for path in paths if path in text]
            page.screenshot(path=str(out_dir / f"{name}.png"), full_page=True)

        # The served web font is the one in use (a fresh machine has no Korean font).
        seen["font_loaded"] = page.evaluate(
            "() => document.fonts.ready.then(() => [...document.fonts].some(f => f.family.replace(/[\"']/g, '') === 'NanumGothic' && f.status === 'loaded'))"
        )

        # A filter: choose another market on the Market page.
        page.goto(f"{base}/market")
        _settle(page, t("dash.page.market", "ko"), True)
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text=t("dash.filter.market", "ko")).first
        box.click()
        options = page.get_by_role("option")
        options.first.wait_for()
        choice = options.nth(1).inner_text().strip()
        options.nth(1).click()
        _idle(page)
        seen["market_heading"] = page.get_by_role("heading", level=3).first.inner_text()
        seen["market_choice"] = choice
        page.screenshot(path=str(out_dir / "market-filtered.png"), full_page=True)

        # The new-customer form at the desk.
        page.goto(f"{base}/desk")
        _settle(page, t("dash.page.desk", "ko"), False)
        page.get_by_role("tab", name=t("dash.desk.new", "ko")).click()
        page.get_by_label(t("dash.form.customer_id", "ko")).fill("WEB0001")
        page.get_by_label(t("dash.form.name", "ko")).fill("김서연")
        page.get_by_label(t("dash.form.age", "ko")).fill("38")
        page.get_by_role("button", name=t("dash.form.check", "ko")).click()
        # The answer (segment and models) appears in its own container after the form's rerun.
        answer = page.locator('.st-key-desk_answer [data-testid="stMetricValue"]')
        answer.first.wait_for(timeout=90_000)
        _idle(page)
        seen["segment_shown"] = answer.first.inner_text().startswith("#")
        page.screenshot(path=str(out_dir / "desk-new-customer.png"), full_page=True)

        # English.
        page.goto(f"{base}/")
        _settle(page, t("dash.page.overview", "ko"), True)
        page.get_by_text("English", exact=True).click()
        _settle(page, t("dash.page.overview", "en"), True)
        page.screenshot(path=str(out_dir / "overview-en.png"), full_page=True)
        seen["english"] = True
    finally:
        page.close()
    return seen


@pytest.fixture(scope="module")
def dashboard(pipeline_wh_path, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """One ``carsight serve dashboard`` on a copy of the pipeline warehouse and one chromium for this
    module's tests (starting each costs seconds). The test that runs a pipeline on the copy comes last."""
    from carsight.warehouse import Warehouse

    root = tmp_path_factory.mktemp("browser")
    warehouse = root / "served.duckdb"
    shutil.copy(pipeline_wh_path, warehouse)
    Warehouse(str(warehouse)).close()  # its first snapshot, as any writer publishes for a copied file
    models = root / "models"
    shutil.copytree(pipeline_wh_path.parent / "models", models)
    with served(warehouse, models) as base, chromium() as browser:
        yield SimpleNamespace(base=base, warehouse=warehouse, models=models, root=root, browser=browser)


def test_dashboard_in_chromium(dashboard, tmp_path):
    # The font is served by Streamlit's static file serving.
    with urllib.request.urlopen(f"{dashboard.base}/app/static/NanumGothic-subset.woff2", timeout=10) as resp:
        assert resp.status == 200 and len(resp.read()) > 100_000
    screenshots = Path(os.environ.get("CARSIGHT_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    seen = drive(dashboard.browser, dashboard.base, screenshots, paths=(str(dashboard.root), str(dashboard.models)))
    assert all(v["exceptions"] == 0 for v in seen["pages"].values()), seen
    assert seen["font_loaded"], "the browser did not load the served NanumGothic font"
    assert seen["segment_shown"], "the new-customer form returned no segment"
    assert seen["market_choice"] in seen["market_heading"]
    assert seen["paths_shown"] == [], "internals (file paths) are shown only with settings.debug"
    for name in PAGES:
        assert (screenshots / f"{name}.png").stat().st_size > 10_000


def _render_every_page(page, base: str) -> dict[str, str]:
    """Open every page and wait for it to finish; returns each page's text (failing on an exception)."""
    texts = {}
    for name in PAGES:
        page.goto(f"{base}/" if name == "overview" else f"{base}/{name}")
        _settle(page, t(f"dash.page.{name}", "ko"), False)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        texts[name] = page.locator("body").inner_text()
    return texts


def test_every_page_renders_in_chromium_while_a_pipeline_runs(dashboard):
    """Readers never wait for writers: `carsight pipeline run` (another process) holds the served
    warehouse while chromium opens every page, again and again; no page fails or says it cannot read,
    and after the run the sidebar shows the new results' time."""
    from carsight.warehouse.sharing import latest_publication

    warehouse = dashboard.warehouse
    before = latest_publication(warehouse)
    env = dict(os.environ, CARSIGHT_WAREHOUSE=str(warehouse), CARSIGHT_MODEL_DIR=str(dashboard.models))
    carsight = Path(sys.executable).with_name("carsight")
    cannot_read = (t("dash.notice.not_published_yet", "ko"), t("dash.notice.write_busy", "ko"), "lock")
    run = None
    page = dashboard.browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
    try:
        run = subprocess.Popen(
            [str(carsight), "pipeline", "run", "--step", "customers"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while latest_publication(warehouse) == before:  # the run holds the file once it published
            assert run.poll() is None, run.stdout.read()
            time.sleep(0.2)
        passes = 0
        while run.poll() is None:
            texts = _render_every_page(page, dashboard.base)
            passes += 1
            shown = [(name, words) for name, text in texts.items() for words in cannot_read if words in text]
            assert not shown, shown
        assert run.wait() == 0, run.stdout.read()
        final = latest_publication(warehouse)
        texts = _render_every_page(page, dashboard.base)
        stamp = t("dash.app.as_of", "ko", time=f"{final.time:%Y-%m-%d %H:%M}")
        assert all(stamp in text for text in texts.values())
    finally:
        page.close()
        if run is not None and run.poll() is None:
            run.kill()
    assert passes >= 1, "the run ended before the pages were read during it"
