"""Property: whoever signs in, no dashboard page shows a customer outside their scope, and hq and agent
users never see a customer's full name (Streamlit's AppTest over every page of the role's navigation,
on the small two-dealer warehouse, with random roles and dealer sets)."""

from __future__ import annotations

import itertools
import re

import pandas as pd
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carsight.access.scope import ROLES
from carsight.access.users import AccessStore

from .conftest import DEALER_A, DEALER_B
from .test_signin import _sign_in, _texts

PAGE_FILES = tuple(
    f"pages/{name}.py" for name in ("overview", "customers", "desk", "campaigns", "market", "forecast", "voc", "models")
)
TOKEN = re.compile(r"[\w-]+")
EXAMPLE = itertools.count()  # one access store per example (tmp_path is shared by them)


def _everything_drawn(at) -> str:
    """Every text of the run, the tables' cells included."""
    cells = []
    for frame in at.dataframe:
        value = frame.value
        if isinstance(value, pd.DataFrame):
            cells.append(value.to_string())
    return "\n".join([_texts(at), *cells])


@settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(role=st.sampled_from(ROLES), dealers=st.sets(st.sampled_from([DEALER_A, DEALER_B]), min_size=1))
def test_no_page_shows_a_customer_outside_the_scope_or_a_full_name_to_hq_and_agents(
    app_for, dealers_wh, tmp_path, monkeypatch, role, dealers
):
    path, customers = dealers_wh
    store_path = tmp_path / f"users-{next(EXAMPLE)}.sqlite"
    monkeypatch.setenv("CARSIGHT_ACCESS_STORE", str(store_path))
    monkeypatch.delenv("CARSIGHT_TRUSTED_USER_HEADER", raising=False)
    access = AccessStore(store_path, hasher=PasswordHasher.from_parameters(CHEAPEST))
    added = access.add("u", role, sorted(dealers) if role == "dealer" else [])
    access.change_password("u", added.password, "u-own-long-password")
    at = _sign_in(app_for(path).run(), "u", "u-own-long-password")
    assert not at.exception

    in_scope = customers.dealer_code.isin(dealers) if role == "dealer" else pd.Series(True, index=customers.index)
    outside_ids = set(customers.customer_id[~in_scope])
    outside_names = set(customers.name[~in_scope])
    opened = 0
    for page in PAGE_FILES:
        try:
            at.switch_page(page).run()
        except ValueError:  # not in this role's navigation
            continue
        opened += 1
        assert not at.exception, page
        drawn = _everything_drawn(at)
        assert not set(TOKEN.findall(drawn)) & outside_ids, page
        assert not any(name in drawn for name in outside_names), page
        if role == "hq" or (role == "agent" and page != "pages/desk.py"):  # the desk shows the served customer
            assert not any(name in drawn for name in customers.name), page
    assert opened >= 2
