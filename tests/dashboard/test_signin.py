"""Dashboard sign-in with Streamlit's AppTest, on a small warehouse whose customers belong to two dealers.

No users: the pages render as before, with no sign-in. Users: only the sign-in form until a good
password; wrong passwords and locks get one line; a dealer sees its own customers only (overview
count, desk search); the navigation follows the role; signing out, an ended session and a disabled
user go back to the sign-in form at once; a trusted proxy header replaces the form; page views and
desk look-ups are audited.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from carsight.access.users import AccessStore, SignInError
from carsight.dashboard import signin
from carsight.i18n import t

from .conftest import DEALER_A, DEALER_B, N_A


@pytest.fixture(autouse=True)
def as_served(monkeypatch):
    """Run app.py at every AppTest run, as a served dashboard does.

    With a ``pages/`` folder beside app.py, Streamlit starts in its pages-folder mode, where a page's
    URL runs that page's file alone; a server leaves that mode for good at the first
    ``st.navigation`` call, but AppTest re-enters it at every run (so a page switched to would run
    without app.py and its sign-in). This keeps AppTest in navigation mode, like the server.
    """
    from streamlit.runtime import pages_manager
    from streamlit.testing.v1 import app_test

    class NavigationMode(pages_manager.PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(pages_manager.PagesManager, "uses_pages_directory", None)
    monkeypatch.setattr(app_test, "PagesManager", NavigationMode)


@pytest.fixture
def access(tmp_path, monkeypatch):
    """An empty access store the dashboard will read (``CARSIGHT_ACCESS_STORE``), with a cheap hasher."""
    path = tmp_path / "users.sqlite"
    monkeypatch.setenv("CARSIGHT_ACCESS_STORE", str(path))
    monkeypatch.delenv(signin.TRUSTED_USER_HEADER, raising=False)
    return AccessStore(path, hasher=PasswordHasher.from_parameters(CHEAPEST))


def _user(access: AccessStore, name: str, role: str, dealers=()) -> str:
    """Add a user and replace its one-time password as its first sign-in would; returns the password."""
    password = f"{name}-own-password"
    access.change_password(name, access.add(name, role, dealers).password, password)
    return password


def _texts(at) -> str:
    """Every text the run drew (titles, markdown, captions, notices, metrics, widget labels and options)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(o) for s in at.selectbox for o in s.options]
    parts += [str(e.label) for e in at.text_input]
    return "\n".join(parts)


def _sign_in(at, name: str, password: str):
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    return at.button[0].click().run()


def _is_sign_in_page(at) -> bool:
    return (
        [e.value for e in at.title] == [t("dash.signin.title", "ko")]
        and not at.metric
        and not at.selectbox
        and not at.get("plotly_chart")
    )


def test_no_users_the_dashboard_opens_as_before(app_for, dealers_wh, access):
    path, customers = dealers_wh
    at = app_for(path).run()
    assert not at.exception
    assert at.title[0].value == t("dash.page.overview", "ko")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("dash.kpi.customers", "ko")] == f"{len(customers):,}"  # every dealer's customers
    assert not access.exists  # the local one-person mode writes no store, no audit


def test_users_exist_only_the_sign_in_form_renders(app_for, dealers_wh, access):
    path, _ = dealers_wh
    access.add("kim", "dealer", [DEALER_A])
    at = app_for(path).run()
    assert not at.exception
    assert _is_sign_in_page(at)
    assert [w.label for w in at.text_input] == [t("dash.signin.name", "ko"), t("dash.signin.password", "ko")]
    text = _texts(at)
    assert str(path) not in text and "가고객" not in text and "나고객" not in text  # no path, no customer
    # Every page's URL is the sign-in page: there is no desk to switch to.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/desk.py")


def test_a_wrong_password_gets_one_line_and_no_data(app_for, dealers_wh, access):
    path, _ = dealers_wh
    access.add("kim", "dealer", [DEALER_A])
    at = _sign_in(app_for(path).run(), "kim", "not the password")
    assert [e.value for e in at.error] == [t("dash.signin.wrong", "ko")]
    assert _is_sign_in_page(at)
    # An unknown name is answered in the very same words.
    at = _sign_in(at, "nobody", "not the password")
    assert [e.value for e in at.error] == [t("dash.signin.wrong", "ko")]


def test_a_locked_user_is_told_when_to_retry(app_for, dealers_wh, access, monkeypatch):
    path, _ = dealers_wh
    monkeypatch.setenv("CARSIGHT_ACCESS_MAX_FAILURES", "2")
    monkeypatch.setenv("CARSIGHT_ACCESS_LOCK_SECONDS", "120")
    password = _user(access, "kim", "dealer", [DEALER_A])
    at = _sign_in(app_for(path).run(), "kim", "wrong one")
    assert [e.value for e in at.error] == [t("dash.signin.wrong", "ko")]
    at = _sign_in(at, "kim", "wrong two")  # the second failure starts a 120 s lock
    assert [e.value for e in at.error] == [t("dash.signin.locked", "ko", seconds=120)]
    at = _sign_in(at, "kim", password)  # even the right password waits for the lock to end
    assert at.error and at.error[0].value.startswith(t("dash.signin.locked", "ko", seconds=0).split("0")[0])
    assert _is_sign_in_page(at)


def test_a_one_time_password_only_opens_the_form_to_replace_it(app_for, dealers_wh, access):
    path, _ = dealers_wh
    one_time = access.add("kim", "dealer", [DEALER_A]).password
    at = _sign_in(app_for(path).run(), "kim", one_time)
    assert _is_sign_in_page(at)
    assert at.info[0].value == t("dash.signin.must_change", "ko", name="kim", chars=12)
    at.text_input(key="signin_old").input(one_time)
    at.text_input(key="signin_new").input("short")
    at.text_input(key="signin_again").input("short")
    at = at.button[0].click().run()
    assert [e.value for e in at.error] == [t("dash.signin.weak", "ko", chars=12)]
    at.text_input(key="signin_new").input("a-long-new-password")
    at.text_input(key="signin_again").input("a-long-new-password")
    at = at.button[0].click().run()
    assert _is_sign_in_page(at) and t("dash.signin.password_changed", "ko") in [i.value for i in at.info]
    at = _sign_in(at, "kim", one_time)  # the one-time password is spent
    assert [e.value for e in at.error] == [t("dash.signin.wrong", "ko")]
    at = _sign_in(at, "kim", "a-long-new-password")
    assert at.title[0].value == t("dash.page.overview", "ko")


def test_dealer_a_sees_none_of_dealer_b_customers(app_for, dealers_wh, access):
    path, customers = dealers_wh
    password = _user(access, "kim", "dealer", [DEALER_A])
    at = _sign_in(app_for(path).run(), "kim", password)
    assert not at.exception
    assert at.title[0].value == t("dash.page.overview", "ko")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("dash.kpi.customers", "ko")] == f"{N_A:,}"
    # The sidebar says who is signed in.
    assert t("dash.signin.who", "ko", name="kim", role=t("dash.role.dealer", "ko")) in [m.value for m in at.markdown]
    assert t("dash.signin.dealers", "ko", dealers=DEALER_A) in [c.value for c in at.caption]
    assert str(path) not in _texts(at)

    at.switch_page("pages/desk.py").run()
    assert not at.exception
    own = set(customers.customer_id[customers.dealer_code == DEALER_A])
    others = customers[customers.dealer_code == DEALER_B]
    listed = set(at.selectbox(key="desk_pick").options)
    assert listed and {o.split(" · ")[0] for o in listed} <= own
    assert not any(name in _texts(at) for name in others.name)
    # Looking a dealer-B customer up by id or name finds nothing.
    for text in (others.customer_id.iloc[0], others.name.iloc[0]):
        at.text_input(key="f_customer").input(text).run()
        assert [i.value for i in at.info][-1] == t("dash.desk.no_match", "ko")
        assert not any(name in _texts(at) for name in others.name)


def test_pages_follow_the_role(app_for, dealers_wh, access):
    path, _ = dealers_wh
    password = _user(access, "lee", "agent")
    at = _sign_in(app_for(path).run(), "lee", password)
    assert not at.exception
    # An agent starts on the desk, and its navigation has the desk and the VoC page only.
    assert at.title[0].value == t("dash.page.desk", "ko")
    with pytest.raises(ValueError, match=r"Known pages: \[[^]]*/pages/desk\.py', '[^']*/pages/voc\.py'\]"):
        at.switch_page("pages/campaigns.py")


def test_sign_out_and_an_ended_session_go_back_to_sign_in(app_for, dealers_wh, access):
    path, _ = dealers_wh
    password = _user(access, "kim", "dealer", [DEALER_A])
    at = _sign_in(app_for(path).run(), "kim", password)
    sign_out = next(b for b in at.button if b.label == t("dash.signin.sign_out", "ko"))
    at = sign_out.click().run()
    assert _is_sign_in_page(at)
    assert t("dash.signin.signed_out", "ko") in [i.value for i in at.info]

    # Signed in again, then disabled by an administrator: the next run shows the sign-in form.
    at = _sign_in(at, "kim", password)
    assert at.title[0].value == t("dash.page.overview", "ko")
    access.disable("kim")
    at.run()
    assert _is_sign_in_page(at)
    assert t("dash.signin.expired", "ko") in [i.value for i in at.info]


def test_page_views_and_desk_look_ups_are_audited(app_for, dealers_wh, access):
    path, _ = dealers_wh
    password = _user(access, "kim", "dealer", [DEALER_A])
    at = _sign_in(app_for(path).run(), "kim", password)
    at.run()  # a rerun of the same page is not a new view
    at.switch_page("pages/desk.py").run()
    chosen = at.selectbox(key="desk_pick").value
    at.run()
    rows = [(e.action, e.target, e.customers) for e in access.audit_entries(user="kim")]
    assert rows[-4:] == [
        ("signin", "password", ()),  # the dashboard's sign-in
        ("page", "overview", ()),
        ("page", "desk", ()),
        ("read", "desk", (chosen,)),
    ]
    assert {e.role for e in access.audit_entries(user="kim")[-3:]} == {"dealer"}


def test_a_trusted_proxy_header_names_the_user(dealers_wh, access):
    access.add("kim", "dealer", [DEALER_A])
    scope = signin.user_from_header(access, {"X-Forwarded-User": "kim"}, "X-Forwarded-User")
    assert (scope.user, scope.role, scope.dealers) == ("kim", "dealer", frozenset({DEALER_A}))
    access.disable("kim")
    with pytest.raises(SignInError):
        signin.user_from_header(access, {"X-Forwarded-User": "kim"}, "X-Forwarded-User")
    with pytest.raises(SignInError):
        signin.user_from_header(access, {"X-Forwarded-User": "park"}, "X-Forwarded-User")


def test_header_mode_without_the_header_shows_no_form(app_for, dealers_wh, access, monkeypatch):
    path, _ = dealers_wh
    access.add("kim", "dealer", [DEALER_A])
    monkeypatch.setenv(signin.TRUSTED_USER_HEADER, "X-Forwarded-User")
    at = app_for(path).run()  # AppTest sends no headers: as if the proxy were bypassed
    assert _is_sign_in_page(at)
    assert not at.text_input
    assert [e.value for e in at.error] == [t("dash.signin.proxy_missing", "ko", header="X-Forwarded-User")]


def test_a_download_records_one_export_row_when_built(access):
    password = _user(access, "kim", "dealer", [DEALER_A])
    scope = access.sign_in("kim", password).scope
    data = signin.export_recorder(access, scope, "campaigns:repurchase", ["C0001", "C0002"], lambda: b"csv", "10.0.0.7")
    assert not [e for e in access.audit_entries(user="kim") if e.action == "export"]  # drawn, not clicked
    assert data() == b"csv"
    (row,) = [e for e in access.audit_entries(user="kim") if e.action == "export"]
    assert (row.role, row.target, row.customers, row.client) == (
        "dealer",
        "campaigns:repurchase",
        ("C0001", "C0002"),
        "10.0.0.7",
    )
    # The local one-person mode writes no audit row.
    assert signin.export_recorder(None, scope, "x", ["C0001"], lambda: b"", None)() == b""
    assert len([e for e in access.audit_entries() if e.action == "export"]) == 1


def test_internals_only_for_a_signed_in_admin(app_for, dealers_wh, access):
    path, _ = dealers_wh
    password = _user(access, "root", "admin")
    at = _sign_in(app_for(path).run(), "root", password)
    assert any(str(path) in c.value for c in at.caption)  # the warehouse location, for the admin
    # (a dealer never sees it, even with CARSIGHT_DEBUG=1 as app_for sets: see the dealer test above)


@pytest.mark.slow
def test_a_dealers_campaign_list_and_send_hold_only_its_customers(
    app_for, pipeline_wh_path, access, tmp_path, monkeypatch
):
    """On the demo pipeline warehouse: the target list and the (dry-run) send of a dealer user hold
    exactly its own opted-in customers of the chosen grades, and the send is audited with them."""
    path = tmp_path / "wh.duckdb"
    shutil.copy(pipeline_wh_path, path)  # the send writes the delivery log
    monkeypatch.setenv("CARSIGHT_OUTPUT_DIR", str(tmp_path / "out"))
    with duckdb.connect(str(path), read_only=True) as con:
        dealer = con.execute(
            "SELECT dealer_code FROM customers WHERE dealer_code IS NOT NULL GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"
        ).fetchone()[0]
    password = _user(access, "kim", "dealer", [dealer])
    at = _sign_in(app_for(path, model_dir=pipeline_wh_path.parent / "models").run(), "kim", password)
    at.switch_page("pages/campaigns.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.slider(key="camp_cut").set_value(2).run()
    target = at.selectbox(key="f_target").value
    with duckdb.connect(str(path), read_only=True) as con:
        expected = {
            r[0]
            for r in con.execute(
                "SELECT customer_id FROM propensity_scores s JOIN customers c USING (customer_id)"
                " WHERE s.target = ? AND s.grade <= 2 AND c.marketing_opt_in AND c.dealer_code = ?",
                [target, dealer],
            ).fetchall()
        }
    assert expected
    assert t("dash.camp.list_size", "ko", n=len(expected)) in [c.value for c in at.caption]
    send = next(b for b in at.button if b.label == t("dash.camp.send_button", "ko", n=len(expected)))
    at = send.click().run()
    assert not at.exception, [e.value for e in at.exception]
    (row,) = [e for e in access.audit_entries(user="kim") if e.action == "campaign.send"]
    assert set(row.customers) == expected and row.role == "dealer" and "dry_run=True" in row.detail
