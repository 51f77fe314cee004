"""Point-in-time features and targets: nothing after the cutoff leaks into a feature, and the
labels count exactly the events in the outcome window."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from carsight.customers.features import build_features, feature_columns
from carsight.customers.targets import build_labels, last_event_date
from carsight.warehouse import connect

CUTOFF = dt.date(2024, 1, 1)


def _frames() -> dict[str, pd.DataFrame]:
    d = pd.to_datetime
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": ["A", "B", "C"],
                "name": None,
                "gender": ["M", "F", "M"],
                "birth_year": [1980, 1990, 1975],
                "region": ["Seoul", "Busan", "Seoul"],
                "join_date": d(["2019-01-01", "2020-06-01", "2023-01-01"]).date,
                "channel": ["web", "showroom", "web"],
                "email": None,
                "phone": None,
                "marketing_opt_in": [True, False, True],
            }
        ),
        "purchases": pd.DataFrame(
            {
                "purchase_id": ["p1", "p2", "p3", "p4", "p5"],
                "customer_id": ["A", "A", "B", "C", "A"],
                "purchase_date": d(["2019-02-01", "2022-05-01", "2020-07-01", "2023-02-01", "2023-12-31"]).date,
                "brand": "Hyundai",
                "model": ["Tucson", "Avante", "Kona", "G70", "Kona"],
                "amount": [3.0e7, 2.5e7, 2.2e7, 4.5e7, -1.0e6],
                "payment_type": "cash",
                "dealer": "Gangnam",
                "channel": "showroom",
            }
        ),
        "leads": pd.DataFrame(
            {
                "lead_id": ["l1", "l2", "l3"],
                "customer_id": ["A", "A", "B"],
                "lead_date": d(["2023-10-01", "2023-11-15", "2023-06-01"]).date,
                "lead_type": ["test_drive", "web_inquiry", "test_drive"],
                "model": "Tucson",
                "channel": "web",
                "status": "open",
            }
        ),
        "service_visits": pd.DataFrame(
            {
                "visit_id": ["v1", "v2"],
                "customer_id": ["A", "B"],
                "visit_date": d(["2023-09-01", "2023-12-01"]).date,
                "model": "Tucson",
                "service_type": "maintenance",
                "amount": [1.0e5, 2.0e5],
                "mileage_km": [40000, 30000],
            }
        ),
        "consultations": pd.DataFrame(
            {
                "consultation_id": ["k1"],
                "customer_id": ["B"],
                "consulted_at": d(["2023-11-20 10:00"]),
                "model": "Kona",
                "channel": "phone",
                "category": "warning light",
                "text": "경고등",
            }
        ),
        "campaign_contacts": pd.DataFrame(
            {
                "campaign_id": ["c1", "c1", "c2"],
                "customer_id": ["A", "B", "B"],
                "sent_at": d(["2023-11-01", "2023-11-01", "2023-12-20"]),
                "opened": [True, False, False],
                "responded": [True, False, False],
                "responded_at": [d("2023-11-03"), pd.NaT, pd.NaT],
            }
        ),
    }


def _future_events() -> dict[str, pd.DataFrame]:
    """Events on or after the cutoff in every table, a customer who joins later, and contact c2 (sent
    before the cutoff) updated with an open and a response that only happen after it."""
    d = pd.to_datetime
    base = _frames()
    later_customer = base["customers"].iloc[[0]].assign(customer_id="D", join_date=d(["2024-02-01"]).date)
    return {
        "customers": later_customer,
        "purchases": base["purchases"]
        .iloc[[0, 3]]
        .assign(purchase_id=["f1", "f2"], purchase_date=d(["2024-01-01", "2024-05-01"]).date, amount=[5.0e7, 3.0e7]),
        "leads": base["leads"].assign(
            lead_id=["f3", "f4", "f5"], lead_date=d(["2024-01-01", "2024-01-02", "2025-01-01"]).date
        ),
        "service_visits": base["service_visits"].assign(
            visit_id=["f6", "f7"], visit_date=d(["2024-01-01", "2024-06-01"]).date, mileage_km=[99999, 99999]
        ),
        "consultations": base["consultations"].assign(consultation_id=["f8"], consulted_at=d(["2024-01-01 00:00"])),
        "campaign_contacts": pd.DataFrame(
            {
                "campaign_id": ["c2", "c3"],
                "customer_id": ["B", "A"],
                "sent_at": d(["2023-12-20", "2024-01-05"]),
                "opened": [True, True],
                "responded": [True, True],
                "responded_at": d(["2024-01-02", "2024-01-06"]),
            }
        ),
    }


@pytest.fixture
def mini_wh(tmp_path):
    wh = connect(str(tmp_path / "mini.duckdb"), init=True)
    for table, frame in _frames().items():
        wh.upsert(table, frame)
    yield wh
    wh.close()


def test_events_after_the_cutoff_change_no_feature(mini_wh):
    before = build_features(mini_wh, CUTOFF)
    for table, frame in _future_events().items():
        mini_wh.upsert(table, frame)
    after = build_features(mini_wh, CUTOFF)
    pd.testing.assert_frame_equal(before, after)
    # ...while a later cutoff does see them, so the comparison above is not vacuous.
    later = build_features(mini_wh, dt.date(2024, 7, 1)).set_index("customer_id")
    assert later.loc["A", "purchases_365d"] == 1  # f1 counts; the 2023-12-31 refund does not
    assert later.loc["B", "responses_total"] == 1


def test_feature_values_match_a_hand_count(mini_wh):
    f = build_features(mini_wh, CUTOFF).set_index("customer_id")
    assert set(f.index) == {"A", "B", "C"}
    a, b, c = f.loc["A"], f.loc["B"], f.loc["C"]
    assert a.purchases_total == 2  # the refund is not a purchase
    assert a.amount_total == pytest.approx(5.4e7)  # ...but lowers the amount
    assert a.vehicle_age_days == (CUTOFF - dt.date(2022, 5, 1)).days
    assert a.leads_90d == 1 and a.leads_prev90d == 1 and a.leads_trend_90d == 0
    assert a.test_drives_90d == 0 and a.test_drives_365d == 1
    assert a.days_since_test_drive == (CUTOFF - dt.date(2023, 10, 1)).days
    assert a.responses_365d == 1 and a.opens_365d == 1 and a.response_rate == 1.0
    assert b.service_90d == 1 and b.service_trend_90d == 1 and b.mileage_km == 30000
    assert b.consults_90d == 1 and pd.isna(b.days_since_response)
    assert b.tenure_days == (CUTOFF - dt.date(2020, 6, 1)).days
    assert c.age == 2024 - 1975 and c.purchases_365d == 1
    assert 0 <= c.rfm_score <= 100
    assert "customer_id" not in feature_columns(f.reset_index())


def test_labels_count_only_the_outcome_window(mini_wh):
    for table, frame in _future_events().items():
        mini_wh.upsert(table, frame)
    repurchase = build_labels(mini_wh, "repurchase", CUTOFF, 90).set_index("customer_id").label
    # A buys on the cutoff day itself (inside [cutoff, cutoff+90)); C only after 90 days; D never bought before.
    assert repurchase.to_dict() == {"A": 1, "B": 0, "C": 0}
    response = build_labels(mini_wh, "response", CUTOFF, 30).set_index("customer_id").label
    assert response.to_dict() == {"A": 1}  # only c3 was sent inside the window
    churn = build_labels(mini_wh, "churn", CUTOFF, 30).set_index("customer_id").label
    assert churn.to_dict() == {"A": 0, "B": 0, "C": 1}
    assert last_event_date(mini_wh) == dt.date(2025, 1, 1)


@pytest.mark.slow
def test_demo_history_cut_at_the_cutoff_gives_identical_features(demo_wh_copy):
    """On the demo business: deleting everything from the cutoff on changes no feature at the cutoff."""
    from carsight.warehouse import schema as S

    with connect(str(demo_wh_copy)) as wh:
        last = last_event_date(wh)
        cutoff = last - dt.timedelta(days=300)
        full = build_features(wh, cutoff)
        duck = wh.con.con
        duck.execute(f"DELETE FROM {S.PURCHASES.name} WHERE purchase_date >= ?", [cutoff])
        duck.execute(f"DELETE FROM {S.LEADS.name} WHERE lead_date >= ?", [cutoff])
        duck.execute(f"DELETE FROM {S.SERVICE_VISITS.name} WHERE visit_date >= ?", [cutoff])
        duck.execute(f"DELETE FROM {S.CONSULTATIONS.name} WHERE CAST(consulted_at AS DATE) >= ?", [cutoff])
        duck.execute(f"DELETE FROM {S.CAMPAIGN_CONTACTS.name} WHERE CAST(sent_at AS DATE) >= ?", [cutoff])
        duck.execute(
            f"UPDATE {S.CAMPAIGN_CONTACTS.name} SET responded = FALSE, responded_at = NULL "
            "WHERE CAST(responded_at AS DATE) >= ?",
            [cutoff],
        )
        cut = build_features(wh, cutoff)
    assert len(full) > 1000
    pd.testing.assert_frame_equal(full, cut)
