"""The month-by-month life of a block of demo customers.

Test drives, service visits, campaign contacts and purchases, where the monthly repurchase hazard is
a documented function of that history (config.RepurchaseEffects). The same step drives the generator
and the truth functions, so the true repurchase probability after any cutoff can be recomputed
exactly from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from carsight.demo import config as C
from carsight.demo import vehicles as V
from carsight.demo.customers import Static

NEVER = -10_000

# Twelve campaigns, one a quarter, in the second month of each quarter 2023..2025.
CAMPAIGN_MONTHS = tuple(C.WINDOW_FIRST_MONTH + 1 + 3 * k for k in range(12))
RECALL_FIRST = C.month_index(C.RECALL_START.year, C.RECALL_START.month)
RECALL_LAST = C.month_index(C.RECALL_END.year, C.RECALL_END.month)
RECALL_MODEL_IDX = V.MODEL_INDEX[C.RECALL_MODEL]


@dataclass
class State:
    """Each customer's history so far, as arrays: last purchase, purchases, model, last events."""

    last_purchase: np.ndarray
    n_purchases: np.ndarray
    model: np.ndarray
    last_test_drive: np.ndarray
    last_service: np.ndarray
    last_response: np.ndarray
    ever_opened: np.ndarray
    recalled: np.ndarray
    shopping: np.ndarray  # in the market (ShoppingIntent), hidden

    @classmethod
    def empty(cls, n: int) -> State:
        """The state of ``n`` customers who have done nothing yet."""
        never = np.full(n, NEVER, dtype=np.int64)
        return cls(
            never.copy(),
            np.zeros(n, np.int64),
            np.full(n, -1, np.int64),
            never.copy(),
            never.copy(),
            never.copy(),
            np.zeros(n, bool),
            np.zeros(n, bool),
            np.zeros(n, bool),
        )

    def tile(self, k: int) -> State:
        """The state repeated ``k`` times (one copy per simulated path)."""
        return State(*(np.tile(getattr(self, f), k) for f in self.__dataclass_fields__))


@dataclass
class Events:
    """What happened, as parallel arrays (customer index within the block, month index, …)."""

    purchase: dict[str, list] = field(default_factory=lambda: {"cust": [], "month": [], "model": []})
    test_drive: dict[str, list] = field(default_factory=lambda: {"cust": [], "month": [], "model": []})
    # Web inquiries, quotes and showroom visits of shopping customers (kind: index into SHOPPING_LEADS).
    shopping_lead: dict[str, list] = field(default_factory=lambda: {"cust": [], "month": [], "kind": []})
    service: dict[str, list] = field(
        default_factory=lambda: {"cust": [], "month": [], "model": [], "recall": [], "car_age": []}
    )
    contact: dict[str, list] = field(
        default_factory=lambda: {"campaign": [], "cust": [], "p_true": [], "opened": [], "responded": []}
    )

    def add(self, table: str, **values) -> None:
        """Append the arrays of one month's events to ``table``."""
        target = getattr(self, table)
        for key, value in values.items():
            target[key].append(np.asarray(value))

    def arrays(self, table: str) -> dict[str, np.ndarray]:
        """All events of ``table`` as one array per column."""
        target = getattr(self, table)
        return {k: (np.concatenate(v) if v else np.array([], dtype=np.int64)) for k, v in target.items()}


def _lookup(table: dict[str, float]) -> np.ndarray:
    return np.array([table[name] for name in C.TYPES])


_BASE_HAZARD = _lookup(C.REPURCHASE.base_monthly)
_TD_TYPE = _lookup(C.BEHAVIOUR.test_drive_type)
_SV_TYPE = _lookup(C.BEHAVIOUR.service_type)
_CAMP_INTERCEPT = _lookup(C.CAMPAIGN.intercept)
_SHOP_START = _lookup(C.SHOPPING.start_monthly)
_SHOP_AGE_BOUNDS = np.array(C.SHOPPING.car_age_bounds)
_SHOP_AGE_FACTOR = np.array(C.SHOPPING.car_age_factor)
SHOPPING_LEADS = ("web_inquiry", "quote", "showroom_visit")
_TASTE = V.taste_matrix(C.TYPES)
_MARKET = V.market_weights()


@dataclass
class MonthHazard:
    """The month's purchase hazards and shopping-start probability of each customer (all 0 for customers without a car).

    They depend on the history but not on the hidden shopping state, which is what lets the truth
    functions integrate that state out exactly.
    """

    background: np.ndarray  # hazard of a customer who is not shopping (or started this month)
    shopping: np.ndarray  # hazard of a customer shopping since before this month
    start: np.ndarray  # probability that a customer not shopping starts this month

    def of(self, shopping: np.ndarray) -> np.ndarray:
        """The hazard of each customer: the shopping hazard where shopping, else the background."""
        return np.where(shopping, self.shopping, self.background)


def hazard(state: State, static: Static, m: int) -> MonthHazard:
    """Repurchase hazards and shopping-start probability of each customer in month ``m``."""
    e, s = C.REPURCHASE, C.SHOPPING
    type_idx = static.type_idx
    has_car = state.n_purchases > 0
    car_age = m - state.last_purchase
    responded = m - state.last_response < 2
    h = _BASE_HAZARD[type_idx].copy()
    h *= np.where(m - state.last_service < 6, e.service_180d, 1.0)
    h *= np.where(car_age > 48, e.car_age_over_4y, np.where(car_age < 12, e.car_age_under_1y, 1.0))
    h *= np.where(state.n_purchases >= 2, e.repeat_buyer, 1.0)
    h *= np.where(responded, e.campaign_response_60d, 1.0)
    p = _SHOP_START[type_idx] * _SHOP_AGE_FACTOR[np.searchsorted(_SHOP_AGE_BOUNDS, car_age, side="right")]
    p *= np.where(car_age * static.km_month > s.high_mileage_km, s.high_mileage, 1.0)
    p *= np.where(responded, s.campaign_response_60d, 1.0)
    return MonthHazard(
        background=np.where(has_car, np.minimum(h, e.cap), 0.0),
        shopping=np.where(has_car, np.minimum(h + e.shopping_monthly, e.cap), 0.0),
        start=np.where(has_car & (car_age >= 1), np.minimum(p, 1.0), 0.0),
    )


def campaign_p_true(state: State, type_idx: np.ndarray, opt_in: np.ndarray, m: int) -> np.ndarray:
    """True probability that a contacted customer responds to a campaign sent in month ``m``."""
    e = C.CAMPAIGN
    z = _CAMP_INTERCEPT[type_idx].copy()
    z += np.where(m - state.last_purchase > 36, e.car_age_over_3y, 0.0)
    z += np.where(state.ever_opened, e.opened_previous, 0.0)
    z += np.where(opt_in, e.opt_in, 0.0)
    z += np.where(m - state.last_purchase < 12, e.recent_purchase_12m, 0.0)
    return 1.0 / (1.0 + np.exp(-z))


def choose_models(rng: np.random.Generator, type_idx: np.ndarray, months: np.ndarray) -> np.ndarray:
    """The model each buyer takes.

    Their type's taste, or the general market for an off-taste purchase, among the models on sale
    that month.
    """
    n = len(type_idx)
    if n == 0:
        return np.array([], dtype=np.int64)
    avail = V.availability(months)
    off = rng.random(n) < C.OFF_TASTE_PURCHASE
    weights = np.where(off[:, None], _MARKET[None, :], _TASTE[type_idx]) * avail
    empty = weights.sum(axis=1) == 0
    weights[empty] = _MARKET[None, :] * avail[empty]
    cum = np.cumsum(weights, axis=1)
    u = rng.random(n) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1).clip(0, len(V.LINEUP) - 1)


def step(
    m: int,
    st: State,
    static: Static,
    rng: np.random.Generator,
    events: Events | None,
    *,
    draw_purchases: bool = True,
) -> MonthHazard:
    """Advance one month. Returns this month's hazards (for the truth functions).

    The order of random draws is fixed: the truth functions replay it to reach the same state.
    """
    n = len(st.n_purchases)
    type_idx = static.type_idx
    joined = static.join_month == m
    has_car = st.n_purchases > 0
    car_age = m - st.last_purchase
    record = events is not None and m >= C.WINDOW_FIRST_MONTH
    b = C.BEHAVIOUR

    u_td, u_sv, u_rc = rng.random(n), rng.random(n), rng.random(n)
    # Test drives: more likely with an old car, and for some types.
    p_td = b.test_drive_base * _TD_TYPE[type_idx] * np.where(car_age > 48, b.test_drive_old_car, 1.0)
    td = has_car & (u_td < p_td)
    st.last_test_drive[td] = m
    # Service: maintenance and repairs grow with the car's age; the recall brings owners in.
    p_sv = (b.service_base + b.service_per_year_of_age * car_age / 12.0) * _SV_TYPE[type_idx]
    sv = has_car & (car_age >= 1) & (u_sv < p_sv)
    rc = np.zeros(n, bool)
    if RECALL_FIRST <= m <= RECALL_LAST:
        rc = has_car & (st.model == RECALL_MODEL_IDX) & ~st.recalled & (u_rc < C.RECALL_SERVICE_MONTHLY)
        st.recalled |= rc
    visit = sv | rc
    st.last_service[visit] = m
    if record:
        idx = np.flatnonzero(td)
        events.add("test_drive", cust=idx, month=np.full(len(idx), m), model=st.model[idx])
        idx = np.flatnonzero(visit)
        events.add(
            "service", cust=idx, month=np.full(len(idx), m), model=st.model[idx], recall=rc[idx], car_age=car_age[idx]
        )

    if m in CAMPAIGN_MONTHS:
        e = C.CAMPAIGN
        u_c, u_o, u_r = rng.random(n), rng.random(n), rng.random(n)
        share = np.where(static.opt_in, e.contact_share_opt_in, e.contact_share_opt_out)
        contacted = has_car & (u_c < share)
        p = campaign_p_true(st, type_idx, static.opt_in, m)
        responded = contacted & (u_r < p)
        p_open = np.minimum(e.open_rate * np.where(static.opt_in, 1.5, 1.0), 0.95)
        opened = contacted & ((u_o < p_open) | responded)
        if events is not None:
            idx = np.flatnonzero(contacted)
            events.add(
                "contact",
                campaign=np.full(len(idx), CAMPAIGN_MONTHS.index(m)),
                cust=idx,
                p_true=p[idx],
                opened=opened[idx],
                responded=responded[idx],
            )
        st.ever_opened |= opened
        st.last_response[responded] = m

    # Shopping intent: who gives up, who starts (old cars far more often), and the leads it produces.
    s = C.SHOPPING
    mh = hazard(st, static, m)
    u_start, u_quit = rng.random(n), rng.random(n)
    u_lead = rng.random((4, n))
    was = st.shopping
    quit_ = was & (u_quit < s.give_up_monthly)
    start = ~was & (u_start < mh.start)
    # Only customers already shopping at the start of the month (and still at it) may buy now, so
    # the leads of the first shopping month always come before the purchase.
    shopping_now = was & ~quit_
    st.shopping = shopping_now | start
    active = st.shopping
    web = active & (u_lead[0] < np.where(start, s.web_inquiry_first, s.web_inquiry))
    quote = active & (u_lead[1] < s.quote)
    showroom = active & (u_lead[2] < s.showroom_visit)
    drive = active & (u_lead[3] < s.test_drive)
    st.last_test_drive[drive] = m
    if record:
        idx = np.flatnonzero(drive)
        events.add("test_drive", cust=idx, month=np.full(len(idx), m), model=st.model[idx])
        for k, hit in enumerate((web, quote, showroom)):
            idx = np.flatnonzero(hit)
            events.add("shopping_lead", cust=idx, month=np.full(len(idx), m), kind=np.full(len(idx), k))

    h = mh.of(shopping_now)
    # In truth mode (no purchase draws) only customers joining this month get their first car.
    buy = ((has_car & (rng.random(n) < h)) | joined) if draw_purchases else joined
    idx = np.flatnonzero(buy)
    models = choose_models(rng, type_idx[idx], np.full(len(idx), m))
    st.model[idx] = models
    st.last_purchase[idx] = m
    st.n_purchases[idx] += 1
    st.shopping[idx] = False
    if events is not None:
        events.add("purchase", cust=idx, month=np.full(len(idx), m), model=models)
    return mh


def simulate(static: Static, rng: np.random.Generator, *, until: int = C.N_MONTHS, events: bool = True):
    """Run months 0..until-1. Returns (state, events or None)."""
    st = State.empty(len(static.type_idx))
    ev = Events() if events else None
    for m in range(until):
        step(m, st, static, rng, ev)
    return st, ev
