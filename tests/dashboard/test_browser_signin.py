"""End to end with sign-in: ``carsight serve dashboard`` with users in the access store, driven by
Debian's chromium: on a copy of the pipeline warehouse (the demo's customers spread over its dealers),
and behind a single sign-on proxy on the small two-dealer warehouse (``dealers_wh``).

Signed out, every URL shows the sign-in page and nothing else; a dealer signed in sees none of
another dealer's customers on any page it opens (no customer id of theirs in the page's text, the
desk's customer list included); signing out ends it. Screenshots of the sign-in page and a dealer's
desk are saved beside the other README pictures when ``CARSIGHT_SCREENSHOTS_DIR`` is set.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from carsight.access.users import AccessStore
from carsight.i18n import t

from .conftest import DEALER_A
from .test_browser import _idle, chromium, served

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = re.compile(r"[\w-]+")


def _dealers(warehouse: Path) -> tuple[str, set[str], set[str]]:
    """The dealer with most customers, its customers' ids, and every other customer's id."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT customer_id, dealer_code FROM customers").fetchall()
        top = con.execute(
            "SELECT dealer_code FROM customers WHERE dealer_code IS NOT NULL"
            " GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"
        ).fetchone()[0]
    own = {c for c, d in rows if d == top}
    return top, own, {c for c, _ in rows} - own


def _shown_ids(text: str, ids: set[str]) -> set[str]:
    return set(TOKEN.findall(text)) & ids


def _heading(page, title: str) -> None:
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=60_000)
    _idle(page)


def test_signed_out_and_dealer_views_in_chromium(pipeline_wh_path, tmp_path, monkeypatch):
    warehouse = tmp_path / "served.duckdb"
    shutil.copy(pipeline_wh_path, warehouse)
    dealer, own, others = _dealers(warehouse)
    assert own and others
    store_path = tmp_path / "users.sqlite"
    access = AccessStore(store_path)
    password = "kim-own-password"  # the one-time password replaced, as a first sign-in does
    access.change_password("kim", access.add("kim", "dealer", [dealer]).password, password)
    monkeypatch.setenv("CARSIGHT_ACCESS_STORE", str(store_path))  # serve() passes os.environ on
    screenshots = Path(os.environ.get("CARSIGHT_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    signin_title = t("dash.signin.title", "ko")
    with served(warehouse, pipeline_wh_path.parent / "models") as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="ko-KR")
        # Signed out: every URL is the sign-in page, with no navigation and no data.
        for url in (f"{base}/", f"{base}/customers", f"{base}/desk"):
            page.goto(url)
            _heading(page, signin_title)
            text = page.locator("body").inner_text()
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0, url
            assert not _shown_ids(text, own | others), url
            assert str(warehouse) not in text
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.screenshot(path=str(screenshots / "signin.png"))

        # A wrong password: one line, still the sign-in page.
        page.get_by_label(t("dash.signin.name", "ko")).fill("kim")
        page.get_by_label(t("dash.signin.password", "ko")).fill("not the password")
        page.get_by_role("button", name=t("dash.signin.submit", "ko")).click()
        page.get_by_text(t("dash.signin.wrong", "ko")).wait_for(timeout=30_000)

        page.get_by_label(t("dash.signin.password", "ko")).fill(password)
        page.get_by_role("button", name=t("dash.signin.submit", "ko")).click()
        # Signed in at /desk: the desk opens (a bookmarked page survives the sign-in).
        _heading(page, t("dash.page.desk", "ko"))
        seen = {"desk": page.locator("body").inner_text()}
        # The desk's customer list, opened.
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text=t("dash.desk.pick", "ko")).first
        box.click()
        options = page.get_by_role("option")
        options.first.wait_for()
        listed = options.all_inner_texts()
        page.keyboard.press("Escape")
        _idle(page)
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.screenshot(path=str(screenshots / "dealer-desk.png"))
        # Pages are opened from the sidebar: a reload starts a new browser session, signed out.
        for name in ("overview", "customers", "campaigns", "desk"):
            title = t(f"dash.page.{name}", "ko")
            page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
            _heading(page, title)
            assert page.locator('[data-testid="stException"]').count() == 0, name
            seen[name] = page.locator("body").inner_text()
        # Another dealer's customer, looked up by id, is not found.
        other = sorted(others)[0]
        page.get_by_label(t("dash.desk.search", "ko")).fill(other)
        page.keyboard.press("Enter")
        page.get_by_text(t("dash.desk.no_match", "ko")).wait_for(timeout=30_000)
        seen["desk lookup"] = page.locator("body").inner_text()

        page.get_by_role("button", name=t("dash.signin.sign_out", "ko")).click()
        _heading(page, signin_title)
        signed_out = page.locator("body").inner_text()

    assert listed and _shown_ids("\n".join(listed), own), "the desk lists the dealer's own customers"
    assert not _shown_ids("\n".join(listed), others)
    for name, text in seen.items():
        assert not _shown_ids(text, others), name
        assert str(warehouse) not in text, name
    assert "kim" in seen["overview"] and dealer in seen["overview"]  # who is signed in
    assert t("dash.signin.signed_out", "ko") in signed_out
    assert (screenshots / "signin.png").stat().st_size > 10_000
    assert (screenshots / "dealer-desk.png").stat().st_size > 10_000


def test_behind_a_single_sign_on_proxy_in_chromium(dealers_wh, tmp_path, monkeypatch):
    """``CARSIGHT_TRUSTED_USER_HEADER``: the header the proxy sets names the user; no password form."""
    warehouse = tmp_path / "served.duckdb"
    shutil.copy(dealers_wh[0], warehouse)
    store_path = tmp_path / "users.sqlite"
    AccessStore(store_path).add("kim", "dealer", [DEALER_A])
    monkeypatch.setenv("CARSIGHT_ACCESS_STORE", str(store_path))
    monkeypatch.setenv("CARSIGHT_TRUSTED_USER_HEADER", "X-Forwarded-User")
    with served(warehouse, tmp_path / "models") as base, chromium() as browser:
        texts = {}
        for user in ("kim", "park", None):
            headers = {"X-Forwarded-User": user} if user else {}
            context = browser.new_context(extra_http_headers=headers, locale="ko-KR")
            page = context.new_page()
            page.goto(f"{base}/")
            title = t("dash.page.overview" if user == "kim" else "dash.signin.title", "ko")
            _heading(page, title)
            texts[user] = page.locator("body").inner_text()
            texts[(user, "inputs")] = page.locator("input[type=password]").count()
            context.close()
    assert "kim" in texts["kim"] and DEALER_A in texts["kim"]
    assert t("dash.signin.proxy_unknown", "ko", name="park") in texts["park"]
    assert t("dash.signin.proxy_missing", "ko", header="X-Forwarded-User") in texts[None]
    assert [texts[(u, "inputs")] for u in ("kim", "park", None)] == [0, 0, 0]  # never a password form
    assert not any(f"고객{i}" in texts[u] for u in ("park", None) for i in range(40))
