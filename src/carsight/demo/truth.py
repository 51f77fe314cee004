"""The planted truth of a generated demo, for tests and benchmarks that check whether analytics recover it.

Customer types, true campaign response probabilities, consultation topics, market affinities, and
the true probability that each customer buys again after a cutoff.

Analytics code must never import this module: it exists to grade them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from carsight.demo import activity as A
from carsight.demo import config as C
from carsight.demo.build import TRUTH, block_seeds, blocks
from carsight.demo.customers import static_customers
from carsight.demo.simulate import State, step
from carsight.errors import InputError


def params(out_dir) -> dict:
    """The generator's parameters saved with the truth of a generated demo."""
    path = Path(out_dir) / TRUTH / "params.json"
    if not path.is_file():
        raise InputError("no demo truth here: generate the demo first", file=str(path))
    return json.loads(path.read_text())


def customer_types(out_dir) -> pd.DataFrame:
    """customer_id, true_type."""
    return pd.read_csv(Path(out_dir) / TRUTH / "customer_types.csv")


def campaign_response(out_dir) -> pd.DataFrame:
    """campaign_id, customer_id, p_true: the true response probability of every contact."""
    return pd.read_csv(Path(out_dir) / TRUTH / "campaign_response.csv")


def consultation_topics(out_dir) -> pd.DataFrame:
    """consultation_id, true_category, label_noisy, ota_event, recall_event."""
    return pd.read_csv(Path(out_dir) / TRUTH / "consultation_topics.csv")


def market_affinity(out_dir) -> pd.DataFrame:
    """model, market, multiplier: the planted "sells unusually well here" factors."""
    return pd.read_csv(Path(out_dir) / TRUTH / "market_affinity.csv")


def expected_sales(seed: int) -> pd.DataFrame:
    """The demo's sales_monthly rows with ``units`` replaced by the mean each count was drawn from.

    The means include the season, trend, launch ramps, the shock and the incentive: the forecast no
    method beats on average, so the floor of any forecast's error on the demo's sales.
    """
    from carsight.demo.market import sales_frame

    return sales_frame(seed, expected=True)


def bad_rows(out_dir) -> pd.DataFrame:
    """The deliberately broken rows planted in the first purchases file."""
    return pd.read_csv(Path(out_dir) / TRUTH / "bad_rows.csv", keep_default_na=False)


def _as_date(value) -> dt.date:
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a date: {value!r}", column="cutoff", expected="YYYY-MM-DD") from exc


def repurchase_probability(out_dir, cutoff, horizon_days: int = 180, *, n_paths: int = 64) -> pd.DataFrame:
    """The true probability that each customer buys in the horizon.

    For each customer who joined on or before ``cutoff``: the probability of at least one purchase
    in (cutoff, cutoff + horizon_days], given everything that happened before the cutoff month.

    The generator is replayed from the seed up to the cutoff month (which gives each customer's
    hidden shopping state there), then ``n_paths`` futures of the behaviours that move the hazard
    (service visits, campaign responses) are simulated. Along each, the hidden shopping state is
    integrated out exactly by a forward recursion over (not shopping, shopping) jointly with
    survival, with each month's hazard applied to the share of the month inside the window; p = 1 -
    the mean survival. Exact (up to the Monte-Carlo average over those behaviours) for a cutoff on
    the first of a month; for a mid-month cutoff, events earlier in the cutoff month are treated as
    unknown.
    """
    p = params(out_dir)
    cut = _as_date(cutoff)
    if horizon_days < 1:
        raise InputError("the horizon must be at least one day", column="horizon_days", expected="a positive number")
    cut_m = C.month_index(cut.year, cut.month)
    if not 0 < cut_m < C.N_MONTHS:
        raise InputError(
            f"cutoff {cut} is outside the demo's history",
            column="cutoff",
            expected=f"a date between {C.HISTORY_START} and {C.WINDOW_END}",
        )
    end = cut + dt.timedelta(days=int(horizon_days))
    # Share of each month from the cutoff month on that lies inside the window.
    shares = []
    m = cut_m
    while True:
        first = A.month_start(np.array([m]))[0].astype(dt.date)
        after = A.month_start(np.array([m + 1]))[0].astype(dt.date)
        lo, hi = max(first, cut + dt.timedelta(days=1)), min(after, end + dt.timedelta(days=1))
        if lo >= after or first > end:
            break
        shares.append((m, max((hi - lo).days, 0) / (after - first).days))
        m += 1
    out = []
    for number, offset, size in blocks(p["customers"]):
        static_rng, sim_rng, _ = block_seeds(p["seed"], number)
        static = static_customers(size, static_rng)
        st = State.empty(size)
        for month in range(cut_m):
            step(month, st, static, sim_rng, None)
        branch_rng = np.random.default_rng(np.random.SeedSequence([p["seed"], number, 0xF00, cut_m]))
        tiled = _tile_static(static, n_paths)
        sts = st.tile(n_paths)
        # Joint probability of (no purchase yet, shopping or not) at the start of each month: the
        # hidden shopping state is integrated out exactly; only the other behaviours are sampled.
        give_up = C.SHOPPING.give_up_monthly
        shopping = sts.shopping.astype(float)
        idle = 1.0 - shopping
        for month, share in shares:
            mh = step(month, sts, tiled, branch_rng, None, draw_purchases=False)
            keep_idle = np.exp(share * np.log1p(-mh.background))
            keep_shop = np.exp(share * np.log1p(-mh.shopping))
            shopping, idle = (
                shopping * (1.0 - give_up) * keep_shop + idle * mh.start * keep_idle,
                shopping * give_up * keep_idle + idle * (1.0 - mh.start) * keep_idle,
            )
        survival = (shopping + idle).reshape(n_paths, size).mean(axis=0)
        joined = A.join_dates(static) <= np.datetime64(cut)
        ids = A.customer_ids(offset + np.flatnonzero(joined)).to_numpy(zero_copy_only=False)
        out.append(pd.DataFrame({"customer_id": ids, "p_true": 1.0 - survival[joined]}))
    return pd.concat(out, ignore_index=True)


def _tile_static(static, k: int):
    from dataclasses import fields, replace

    return replace(static, **{f.name: np.tile(getattr(static, f.name), k) for f in fields(static)})


def observed_repurchase(purchases: pd.DataFrame, customers: pd.DataFrame, cutoff, horizon_days: int = 180) -> pd.Series:
    """Whether each customer (joined on or before the cutoff) bought in the window, from loaded tables.

    The label the truth above is a probability of (refund rows are not purchases).
    """
    cut = pd.Timestamp(_as_date(cutoff))
    end = cut + pd.Timedelta(days=int(horizon_days))
    dates = pd.to_datetime(purchases["purchase_date"])
    sel = (dates > cut) & (dates <= end) & (purchases["amount"] > 0)
    existing = customers.loc[pd.to_datetime(customers["join_date"]) <= cut, "customer_id"]
    bought = existing.isin(purchases.loc[sel, "customer_id"]).to_numpy()
    return pd.Series(bought, index=existing.to_numpy(), name="bought")
