"""The planted truth is consistent with the data it was planted in: true probabilities are
calibrated against what actually happened, and the planted VoC events are visible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carsight.demo import config as C
from carsight.demo import truth as T
from carsight.errors import InputError
from carsight.warehouse import connect
from carsight.warehouse import schema as S

CUTOFF = "2025-01-01"


@pytest.fixture(scope="module")
def tables(demo_wh_path) -> dict[str, pd.DataFrame]:
    with connect(str(demo_wh_path), read_only=True) as wh:
        names = (S.CUSTOMERS.name, S.PURCHASES.name, S.CONSULTATIONS.name, S.LEADS.name)
        return {name: wh.table(name).to_pandas() for name in names}


@pytest.fixture(scope="module")
def repurchase(demo_files, tables) -> pd.DataFrame:
    p = T.repurchase_probability(demo_files, CUTOFF, 180)
    observed = T.observed_repurchase(tables[S.PURCHASES.name], tables[S.CUSTOMERS.name], CUTOFF, 180)
    return p.set_index("customer_id").join(observed, how="inner")


def test_true_repurchase_probability_is_calibrated(repurchase):
    assert len(repurchase) > 1_000
    assert repurchase["p_true"].between(0, 1).all()
    mean_p, rate = repurchase["p_true"].mean(), repurchase["bought"].mean()
    assert 0.04 < mean_p < 0.12  # documented: roughly 5–12% buy within 180 days
    se = np.sqrt(mean_p * (1 - mean_p) / len(repurchase))
    assert abs(mean_p - rate) < 4 * se


def test_true_probability_ranks_buyers_first(repurchase):
    # AUROC from ranks (Mann–Whitney), without importing scikit-learn for one number.
    ranks = repurchase["p_true"].rank()
    pos = repurchase["bought"].to_numpy()
    n_pos, n_neg = pos.sum(), (~pos).sum()
    auc = (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    assert auc > 0.6
    top = repurchase["p_true"] >= repurchase["p_true"].quantile(0.8)
    assert repurchase.loc[top, "bought"].mean() > 2 * repurchase.loc[~top, "bought"].mean()


def test_true_probability_concentrates_buyers_in_the_top_decile(repurchase):
    # docs/demo-data.md: the shopping state makes the top decile of p_true buy at about 4× the average
    # (lift 2.5 with the earlier, weaker hazard); 3,000 customers give a noisy estimate, hence 3.
    top = repurchase["p_true"] >= repurchase["p_true"].quantile(0.9)
    assert repurchase.loc[top, "bought"].mean() > 3 * repurchase["bought"].mean()


def test_leads_are_observable_precursors_of_a_purchase(tables, repurchase):
    """Shoppers make leads before they buy: customers with a lead (test drive above all) in the 90
    days before the cutoff buy again far more often than the others."""
    leads = tables[S.LEADS.name]
    dates = pd.to_datetime(leads["lead_date"])
    recent = leads[(dates < pd.Timestamp(CUTOFF)) & (dates >= pd.Timestamp(CUTOFF) - pd.Timedelta(days=90))]
    bought = repurchase["bought"]
    any_lead = repurchase.index.isin(recent["customer_id"])
    drove = repurchase.index.isin(recent.loc[recent["lead_type"] == "test_drive", "customer_id"])
    assert bought[any_lead].mean() > 1.5 * bought[~any_lead].mean()
    assert bought[drove].mean() > 3 * bought[~any_lead].mean()


def test_truth_is_deterministic_and_validated(demo_files):
    a = T.repurchase_probability(demo_files, "2024-07-01", 90, n_paths=8)
    b = T.repurchase_probability(demo_files, "2024-07-01", 90, n_paths=8)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InputError):
        T.repurchase_probability(demo_files, "2031-01-01", 90)
    with pytest.raises(InputError):
        T.repurchase_probability(demo_files, "not a date", 90)


def test_consultation_labels_noise_and_events(demo_files, tables):
    consultations = tables[S.CONSULTATIONS.name]
    topics = T.consultation_topics(demo_files)
    assert len(topics) == len(consultations)
    assert abs(consultations["category"].isna().mean() - C.UNLABELLED_SHARE) < 0.03
    assert abs(topics["label_noisy"].mean() - C.NOISY_LABEL_SHARE) < 0.015
    at = pd.to_datetime(consultations["consulted_at"])
    ota = consultations["text"].str.replace(" ", "").str.contains("OTA업데이트")
    in_q3 = (at >= "2025-07-01") & (at < "2025-10-01")
    assert ota[in_q3].sum() > 5
    assert ota[~in_q3].sum() == 0
    sorento = consultations["model"] == C.RECALL_MODEL
    recall = consultations["category"] == "리콜"
    during = (at >= "2024-09-01") & (at < "2025-03-01")
    assert recall[sorento & during].mean() > 3 * recall[sorento & ~during].mean()


def test_expected_sales_are_the_means_the_counts_were_drawn_from():
    from carsight.demo.market import NB_SIZE, sales_frame

    counts, means = sales_frame(7), T.expected_sales(7)
    keys = ["brand", "model", "market", "kind", "month"]
    assert counts[keys].equals(means[keys])
    # Negative-binomial counts around their means: the totals agree closely, and standardised by the
    # negative-binomial spread (variance μ + μ²/size) the counts have mean 0 and spread 1.
    assert abs(counts["units"].sum() / means["units"].sum() - 1) < 0.02
    mu = means["units"]
    z = (counts["units"] - mu) / np.sqrt(mu + mu**2 / NB_SIZE)
    big = mu > 20
    assert abs(z[big].mean()) < 0.1
    assert 0.9 < z[big].std() < 1.1
