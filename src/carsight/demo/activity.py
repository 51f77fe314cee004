"""Turning one simulated block of customers into the source tables.

Customers, purchases (with refunds), leads, service visits, consultations, campaigns and campaign
contacts, plus the truth files about them. All columns use the canonical schema names; files.py
decides how they are written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.demo import config as C
from carsight.demo import customers as CU
from carsight.demo import dealers as D
from carsight.demo import text as T
from carsight.demo import vehicles as V
from carsight.demo.simulate import CAMPAIGN_MONTHS, SHOPPING_LEADS, Events, State, choose_models

_MONTH0 = np.datetime64("2016-01", "M")
_WINDOW_START = np.datetime64(C.WINDOW_START, "D")
_WINDOW_END = np.datetime64(C.WINDOW_END, "D")

# Branches generator version 3 drew a purchase's dealer from (see Block.purchases).
_V3_BRANCHES = 38

CAMPAIGNS = [
    # name, channel, goal, offer, cost per contact (KRW)
    ("신년 재구매 감사 이벤트", "email", "repurchase", "재구매 고객 50만원 할인", 40.0),
    ("봄맞이 무상점검", "sms", "service", "20개 항목 무상점검", 25.0),
    ("여름 시승 페스티벌", "sms", "test_drive", "시승 고객 주유권 3만원", 25.0),
    ("연말 특별 프로모션", "dm", "repurchase", "할부 금리 1.9%", 1_200.0),
    ("설 연휴 안심점검", "email", "service", "소모품 20% 할인", 40.0),
    ("EV 전환 지원", "call", "test_drive", "전기차 시승 + 충전 크레딧", 3_000.0),
    ("가족 SUV 페어", "sms", "test_drive", "시승 후 상품권", 25.0),
    ("로열티 재구매 혜택", "dm", "repurchase", "보유차량 추가 보상 100만원", 1_200.0),
    ("신년 재구매 감사 이벤트 2025", "email", "repurchase", "재구매 고객 70만원 할인", 40.0),
    ("봄 정비 캠페인", "sms", "service", "브레이크 점검 무료", 25.0),
    ("여름 휴가 시승", "call", "test_drive", "주말 시승 + 주유권", 3_000.0),
    ("연말 감사 프로모션", "email", "repurchase", "보증 연장 무료", 40.0),
]


def campaign_ids() -> list[str]:
    """CMP-2023Q1 … CMP-2025Q4."""
    out = []
    for m in CAMPAIGN_MONTHS:
        year, month = C.HISTORY_START.year + m // 12, m % 12 + 1
        out.append(f"CMP-{year}Q{(month - 1) // 3 + 1}")
    return out


def month_start(months: np.ndarray) -> np.ndarray:
    """The first day of each month index."""
    return (_MONTH0 + np.asarray(months).astype("timedelta64[M]")).astype("datetime64[D]")


def day_in_month(rng: np.random.Generator | None, months: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
    """A uniform random day within each month (``u`` in [0, 1) when the draw is already made)."""
    start = month_start(months)
    length = (month_start(np.asarray(months) + 1) - start).astype(np.int64)
    u = rng.random(len(start)) if u is None else u
    return start + (u * length).astype(np.int64).astype("timedelta64[D]")


def join_dates(static) -> np.ndarray:
    """The join date of every customer."""
    return day_in_month(None, static.join_month, static.join_day)


def ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    """Ids ``prefix`` + zero-padded numbers from ``start``."""
    numbers = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def customer_ids(global_idx: np.ndarray) -> pa.Array:
    """Customer ids (``C`` + seven digits) of customer indexes."""
    numbers = pc.cast(pa.array(np.asarray(global_idx, dtype=np.int64) + 1), pa.string())
    return pc.binary_join_element_wise("C", pc.utf8_lpad(numbers, 7, "0"), "")


def _categorical(rng: np.random.Generator, type_idx: np.ndarray, attr: str) -> np.ndarray:
    """Per-row draw from the type profile's distribution named ``attr`` (payments, channels, …)."""
    out = np.empty(len(type_idx), dtype=object)
    u = rng.random(len(type_idx))
    for t, name in enumerate(C.TYPES):
        sel = type_idx == t
        dist = getattr(CU.PROFILES[name], attr)
        keys = np.array(list(dist), dtype=object)
        cum = np.cumsum(list(dist.values()))
        out[sel] = keys[np.searchsorted(cum / cum[-1], u[sel], side="right").clip(0, len(keys) - 1)]
    return out


class Block:
    """One block of customers: ids, static profile, simulation state and events."""

    def __init__(
        self, number: int, offset: int, static, state: State, events: Events, rng: np.random.Generator, *, seed: int
    ):
        self.number = number
        self.seed = seed
        self.offset = offset
        self.static = static
        self.state = state
        self.events = events
        self.rng = rng
        self.n = len(static.type_idx)
        self.cust_ids = customer_ids(offset + np.arange(self.n))
        self.join_dates = join_dates(static)
        self._purchases = self._purchase_arrays()
        # Dealers come from streams of their own, so every other draw is as without them.
        self.home_dealer = D.home_dealers(static.region_idx, self._dealer_rng(D.CUSTOMERS))

    def _dealer_rng(self, use: int) -> np.random.Generator:
        return D.dealer_rng(self.seed, self.number, use)

    # Each id space is split by block so ids are unique without coordination.
    def _id_start(self) -> int:
        return self.number * 10_000_000 + 1

    def customers(self) -> tuple[pa.Table, pa.Table]:
        """The customers table and the truth of each customer's type."""
        s, rng = self.static, self.rng
        names, roman = CU.korean_names(rng, s.male)
        join = self.join_dates
        table = pa.table(
            {
                "customer_id": self.cust_ids,
                "name": names,
                "gender": pa.array(np.where(s.male, "M", "F")),
                "birth_year": pa.array(CU.REFERENCE_YEAR - s.age),
                "region": pa.array(np.array(CU.REGION_NAMES, dtype=object)[s.region_idx], pa.string()),
                "join_date": pa.array(join),
                "channel": pa.array(s.channel, pa.string()),
                "email": CU.emails(rng, roman),
                "phone": CU.phones(rng, self.n),
                "marketing_opt_in": pa.array(s.opt_in),
                "dealer_code": D.codes(self.home_dealer),
            }
        )
        truth = pa.table(
            {"customer_id": self.cust_ids, "true_type": pa.array(np.array(C.TYPES, dtype=object)[s.type_idx])}
        )
        return table, truth

    def _purchase_arrays(self) -> dict:
        p = self.events.arrays("purchase")
        order = np.lexsort((p["month"], p["cust"]))
        p = {k: v[order] for k, v in p.items()}
        p["date"] = day_in_month(self.rng, p["month"])
        # A customer joins with their first purchase, so that one falls on the join date.
        first = np.ones(len(p["cust"]), bool)
        first[1:] = p["cust"][1:] != p["cust"][:-1]
        p["date"][first] = self.join_dates[p["cust"][first]]
        return p

    def purchase_arrays(self) -> dict:
        """The simulated purchases as arrays (customer, month, date, model), sorted by customer and month."""
        return self._purchases

    def purchases(self) -> tuple[pa.Table, int]:
        """The purchases table and the number of refunds in it."""
        rng, s = self.rng, self.static
        p = self.purchase_arrays()
        n = len(p["cust"])
        t_idx = s.type_idx[p["cust"]]
        year = p["date"].astype("datetime64[Y]").astype(np.int64) + 1970
        inflation = 1.0 - 0.03 * (CU.REFERENCE_YEAR - year)
        opt = np.empty(n)
        disc = np.empty(n)
        u = rng.random((2, n))
        for t, name in enumerate(C.TYPES):
            sel = t_idx == t
            lo, hi = CU.PROFILES[name].options
            opt[sel] = lo + (hi - lo) * u[0, sel]
            lo, hi = CU.PROFILES[name].discount
            disc[sel] = lo + (hi - lo) * u[1, sel]
        amount = np.round(V.base_prices()[p["model"]] * inflation * (1 + opt) * (1 - disc), -4)
        # Generator version 3 drew a branch per purchase here. The draws stay, unused, so this stream's
        # later draws (payment types, channels, refunds) are unchanged; the dealer comes from its own stream.
        rng.random(n), rng.integers(0, _V3_BRANCHES, n), rng.random(n)
        dealer = D.record_dealers(self.home_dealer[p["cust"]], D.AWAY_PURCHASE_SHARE, self._dealer_rng(D.PURCHASES))
        start = self._id_start()
        table = pa.table(
            {
                "purchase_id": ids("P", start, n, 9),
                "customer_id": pc.take(self.cust_ids, pa.array(p["cust"])),
                "purchase_date": pa.array(p["date"]),
                "brand": pa.array(V.brands()[p["model"]], pa.string()),
                "model": pa.array(np.array(V.MODEL_NAMES, dtype=object)[p["model"]], pa.string()),
                "amount": pa.array(amount),
                "payment_type": pa.array(_categorical(rng, t_idx, "payments"), pa.string()),
                "dealer": pa.array(D.NAMES[dealer].tolist(), pa.string()),
                "channel": pa.array(_categorical(rng, t_idx, "purchase_channels"), pa.string()),
                "dealer_code": D.codes(dealer),
            }
        )
        # Refunds: a cancelled contract shows as a second, negative row a few weeks later.
        refund = np.flatnonzero(rng.random(n) < 0.004)
        if len(refund):
            r = table.take(pa.array(refund))
            r = r.set_column(0, "purchase_id", pc.binary_join_element_wise(r["purchase_id"], "R", ""))
            later = p["date"][refund] + rng.integers(5, 40, len(refund)).astype("timedelta64[D]")
            # The files are an extract up to WINDOW_END: a refund after it is not in them yet.
            keep = later <= _WINDOW_END
            refund, r, later = refund[keep], r.filter(pa.array(keep)), later[keep]
            r = r.set_column(2, "purchase_date", pa.array(later))
            r = r.set_column(5, "amount", pc.negate(r["amount"]))
            table = pa.concat_tables([table, r])
        return table, len(refund)

    def _model_at(self, cust: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """The model each customer drove on each date (-1 before their first purchase)."""
        p = self.purchase_arrays()
        key_p = p["cust"].astype(np.int64) * 100_000 + (p["date"] - np.datetime64("2000-01-01")).astype(np.int64)
        key_q = cust.astype(np.int64) * 100_000 + (dates - np.datetime64("2000-01-01")).astype(np.int64)
        pos = np.searchsorted(key_p, key_q, side="right") - 1
        ok = (pos >= 0) & (p["cust"][pos.clip(0)] == cust)
        return np.where(ok, p["model"][pos.clip(0)], -1)

    def _window_days(self, rng, cust: np.ndarray) -> np.ndarray:
        """Uniform dates between the customer's join date (or the window start) and the window end."""
        first = np.maximum(month_start(self.static.join_month[cust]), _WINDOW_START)
        span = (_WINDOW_END - first).astype(np.int64) + 1
        return first + (rng.random(len(cust)) * span).astype(np.int64).astype("timedelta64[D]")

    def _per_customer(self, rng, rate_per_year: float) -> np.ndarray:
        """Customer indices repeated by a Poisson count proportional to their years in the window."""
        first = np.maximum(month_start(self.static.join_month), _WINDOW_START)
        years = np.maximum((_WINDOW_END - first).astype(np.int64), 0) / 365.25
        counts = rng.poisson(rate_per_year * years)
        return np.repeat(np.arange(self.n), counts)

    def leads(self) -> pa.Table:
        """The leads table: test drives from the simulation and other inquiries."""
        rng, s = self.rng, self.static
        td = self.events.arrays("test_drive")
        td_dates = day_in_month(rng, td["month"])
        td_models = choose_models(rng, s.type_idx[td["cust"]], td["month"])
        other = self._per_customer(rng, C.BEHAVIOUR.other_leads_per_year)
        other_dates = self._window_days(rng, other)
        other_months = (other_dates.astype("datetime64[M]") - _MONTH0).astype(np.int64)
        other_types = np.array(SHOPPING_LEADS, dtype=object)[
            np.searchsorted([0.45, 0.75], rng.random(len(other)), side="right")
        ]
        # The leads of customers in the market (ShoppingIntent), on top of the background ones.
        shop = self.events.arrays("shopping_lead")
        other = np.concatenate([other, shop["cust"]]).astype(np.int64)
        other_dates = np.concatenate([other_dates, day_in_month(rng, shop["month"])])
        other_months = np.concatenate([other_months, shop["month"]]).astype(np.int64)
        other_types = np.concatenate(
            [other_types, np.array(SHOPPING_LEADS, dtype=object)[shop["kind"].astype(np.int64)]]
        )
        other_models = choose_models(rng, s.type_idx[other], other_months)
        cust = np.concatenate([td["cust"], other])
        dates = np.concatenate([td_dates, other_dates])
        models = np.concatenate([td_models, other_models])
        kinds = np.concatenate([np.full(len(td_dates), "test_drive", dtype=object), other_types])
        status = self._lead_status(cust, dates)
        known = len(cust)
        # Anonymous leads (no customer number): web forms and walk-ins of people not yet customers.
        n_anon = int(round(known * C.BEHAVIOUR.anonymous_lead_share))
        span = (_WINDOW_END - _WINDOW_START).astype(np.int64) + 1
        anon_dates = _WINDOW_START + (rng.random(n_anon) * span).astype(np.int64).astype("timedelta64[D]")
        w = V.market_weights()
        anon_months = (anon_dates.astype("datetime64[M]") - _MONTH0).astype(np.int64)
        avail = V.availability(anon_months) * w[None, :]
        cum = np.cumsum(avail, axis=1)
        anon_models = (cum < (rng.random(n_anon) * cum[:, -1])[:, None]).sum(axis=1).clip(0, len(w) - 1)
        anon_kind = np.array(["web_inquiry", "quote", "test_drive", "showroom_visit"], dtype=object)[
            np.searchsorted([0.5, 0.7, 0.85], rng.random(n_anon), side="right")
        ]
        anon_status = np.where(
            (_WINDOW_END - anon_dates).astype(np.int64) < 90,
            "open",
            np.where(rng.random(n_anon) < 0.06, "won", "lost"),
        )
        all_kinds = np.concatenate([kinds, anon_kind])
        channel_of = {"test_drive": "showroom", "web_inquiry": "web", "quote": "BDC", "showroom_visit": "showroom"}
        channels = pd.Series(all_kinds).map(channel_of).to_numpy(dtype=object)
        channels = np.where(rng.random(len(channels)) < 0.2, "app", channels)
        n_all = known + n_anon
        cust_col = pa.concat_arrays([pc.take(self.cust_ids, pa.array(cust, pa.int64())), pa.nulls(n_anon, pa.string())])
        dealer_rng = self._dealer_rng(D.LEADS)
        dealer = np.concatenate(
            [
                D.record_dealers(self.home_dealer[cust], D.AWAY_PURCHASE_SHARE, dealer_rng),
                D.anonymous_dealers(n_anon, dealer_rng),
            ]
        )
        return pa.table(
            {
                "lead_id": ids("L", self._id_start(), n_all, 9),
                "customer_id": cust_col,
                "lead_date": pa.array(np.concatenate([dates, anon_dates])),
                "lead_type": pa.array(all_kinds, pa.string()),
                "model": pa.array(
                    np.array(V.MODEL_NAMES, dtype=object)[np.concatenate([models, anon_models])], pa.string()
                ),
                "channel": pa.array(channels, pa.string()),
                "status": pa.array(np.concatenate([status, anon_status]), pa.string()),
                "dealer_code": D.codes(dealer),
            }
        )

    def _lead_status(self, cust: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """won: the customer bought within 90 days after the lead; open: too recent to tell; else lost.

        (An outcome field: it looks into the future of the lead, so never use it as a feature.)
        """
        p = self.purchase_arrays()
        base = np.datetime64("2000-01-01")
        key_p = p["cust"].astype(np.int64) * 100_000 + (p["date"] - base).astype(np.int64)
        key_q = cust.astype(np.int64) * 100_000 + (dates - base).astype(np.int64)
        if len(key_p) == 0:
            won = np.zeros(len(cust), bool)
        else:
            pos = np.searchsorted(key_p, key_q, side="left")
            nxt = key_p[pos.clip(0, len(key_p) - 1)] - key_q
            # Same customer only: the key difference is then the number of days.
            won = (pos < len(key_p)) & (nxt >= 0) & (nxt <= 90)
        recent = (_WINDOW_END - dates).astype(np.int64) < 90
        return np.where(won, "won", np.where(recent, "open", "lost")).astype(object)

    def service_visits(self) -> pa.Table:
        """The service visits table."""
        rng, s = self.rng, self.static
        sv = self.events.arrays("service")
        n = len(sv["cust"])
        dates = day_in_month(rng, sv["month"])
        u = rng.random(n)
        in_warranty = sv["car_age"] < 60
        kind = np.where(u < 0.6, "maintenance", np.where(u < 0.85 - 0.15 * ~in_warranty, "repair", "warranty"))
        kind = np.where(~in_warranty & (kind == "warranty"), "repair", kind)
        kind = np.where(sv["recall"], "recall", kind).astype(object)
        premium = np.array([m.brand == "Genesis" for m in V.LINEUP])[sv["model"]]
        scale = np.where(premium, 1.8, 1.0)
        amount = np.where(
            kind == "maintenance",
            rng.lognormal(np.log(150_000), 0.4, n),
            np.where(kind == "repair", rng.lognormal(np.log(550_000), 0.8, n), 0.0),
        )
        amount = np.round(amount * scale, -2)
        # The customer's own driving (which also drives their shopping), read off the odometer.
        km_month = s.km_month[sv["cust"]] * rng.lognormal(0, 0.03, n)
        mileage = np.round(np.maximum(sv["car_age"], 0) * km_month + rng.integers(50, 900, n)).astype(np.int64)
        return pa.table(
            {
                "visit_id": ids("V", self._id_start(), n, 9),
                "customer_id": pc.take(self.cust_ids, pa.array(sv["cust"])),
                "visit_date": pa.array(dates),
                "model": pa.array(np.array(V.MODEL_NAMES, dtype=object)[sv["model"]], pa.string()),
                "service_type": pa.array(kind, pa.string()),
                "amount": pa.array(amount),
                "mileage_km": pa.array(mileage),
                "dealer_code": D.codes(
                    D.record_dealers(self.home_dealer[sv["cust"]], D.AWAY_SERVICE_SHARE, self._dealer_rng(D.SERVICE))
                ),
            }
        )

    def consultations(self) -> tuple[pa.Table, pa.Table]:
        """The consultations table and the truth of each (true category, noisy label, planted events)."""
        rng = self.rng
        cust = self._per_customer(rng, C.BEHAVIOUR.consultations_per_year)
        dates = self._window_days(rng, cust)
        model = self._model_at(cust, dates)
        keep = model >= 0
        cust, dates, model = cust[keep], dates[keep], model[keep]
        # Callers we cannot match to a customer number.
        n_unknown = int(round(len(cust) * 0.08))
        span = (_WINDOW_END - _WINDOW_START).astype(np.int64) + 1
        u_dates = _WINDOW_START + (rng.random(n_unknown) * span).astype(np.int64).astype("timedelta64[D]")
        u_model = rng.integers(0, len(V.LINEUP), n_unknown)
        dates = np.concatenate([dates, u_dates])
        model = np.concatenate([model, u_model])
        n = len(dates)
        category = T.sample_categories(rng, model)
        is_ev = np.array([m.powertrain == "EV" for m in V.LINEUP])[model]
        ota_period = (dates >= np.datetime64(C.OTA_RISE_START)) & (dates <= np.datetime64(C.OTA_RISE_END))
        ota = is_ev & ota_period & (rng.random(n) < C.OTA_RISE_SHARE)
        category = np.where(ota, T.CATEGORY_KEYS.index("infotainment"), category)
        recall_period = (dates >= np.datetime64(C.RECALL_START)) & (dates <= np.datetime64(C.RECALL_END))
        recall = (
            (model == V.MODEL_INDEX[C.RECALL_MODEL]) & recall_period & (rng.random(n) < C.RECALL_CONSULTATION_SHARE)
        )
        category = np.where(recall, T.CATEGORY_KEYS.index("recall"), category)
        text = T.render_texts(rng, category, model, ota=ota, recall=recall)
        true_label = np.array(T.CATEGORY_LABELS, dtype=object)[category]
        u = rng.random(n)
        unlabelled = u < C.UNLABELLED_SHARE
        noisy = (u >= C.UNLABELLED_SHARE) & (u < C.UNLABELLED_SHARE + C.NOISY_LABEL_SHARE)
        wrong = (category + rng.integers(1, len(T.CATEGORY_KEYS), n)) % len(T.CATEGORY_KEYS)
        label = np.where(noisy, np.array(T.CATEGORY_LABELS, dtype=object)[wrong], true_label)
        label = pa.array(np.where(unlabelled, None, label), pa.string())
        seconds = (9 * 3600 + rng.random(n) * 9 * 3600).astype(np.int64)
        at = dates.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
        channel = np.array(["phone", "chat", "app", "email"], dtype=object)[
            np.searchsorted([0.6, 0.8, 0.9], rng.random(n), side="right")
        ]
        order = np.argsort(at, kind="stable")
        cid = ids("Q", self._id_start(), n, 9)
        cust_col = pa.concat_arrays([pc.take(self.cust_ids, pa.array(cust)), pa.nulls(n_unknown, pa.string())])
        # Passed to the customer's own dealer; callers without a customer number to nobody.
        dealer_col = pa.concat_arrays([D.codes(self.home_dealer[cust]), pa.nulls(n_unknown, pa.string())])
        table = pa.table(
            {
                "consultation_id": cid,
                "customer_id": pc.take(cust_col, pa.array(order)),
                "consulted_at": pa.array(at[order]),
                "model": pa.array(np.array(V.MODEL_NAMES, dtype=object)[model[order]], pa.string()),
                "channel": pa.array(channel[order], pa.string()),
                "category": pc.take(label, pa.array(order)),
                "text": pc.take(text, pa.array(order)),
                "dealer_code": pc.take(dealer_col, pa.array(order)),
            }
        )
        truth = pa.table(
            {
                "consultation_id": cid,
                "true_category": pa.array(true_label[order], pa.string()),
                "label_noisy": pa.array(noisy[order]),
                "ota_event": pa.array(ota[order]),
                "recall_event": pa.array(recall[order]),
            }
        )
        return table, truth

    def campaign_contacts(self) -> tuple[pa.Table, pa.Table]:
        """The campaign contacts table and each contact's true response probability."""
        rng = self.rng
        c = self.events.arrays("contact")
        n = len(c["cust"])
        camp = c["campaign"].astype(np.int64)
        start = month_start(np.array(CAMPAIGN_MONTHS)[camp])
        sent = start.astype("datetime64[s]") + (
            (rng.integers(0, 5, n) * 86_400 + rng.integers(9 * 3600, 18 * 3600, n)).astype("timedelta64[s]")
        )
        delay = np.minimum(rng.exponential(5 * 86_400, n), 29 * 86_400).astype(np.int64)
        responded_at = sent + delay.astype("timedelta64[s]")
        cids = np.array(campaign_ids(), dtype=object)[camp]
        cust = pc.take(self.cust_ids, pa.array(c["cust"]))
        table = pa.table(
            {
                "campaign_id": pa.array(cids, pa.string()),
                "customer_id": cust,
                "sent_at": pa.array(sent),
                "opened": pa.array(c["opened"].astype(bool)),
                "responded": pa.array(c["responded"].astype(bool)),
                "responded_at": pa.array(responded_at, mask=~c["responded"].astype(bool)),
            }
        )
        truth = pa.table(
            {"campaign_id": pa.array(cids, pa.string()), "customer_id": cust, "p_true": pa.array(c["p_true"])}
        )
        return table, truth


def campaigns_table() -> pa.Table:
    """The campaigns table."""
    starts = month_start(np.array(CAMPAIGN_MONTHS))
    return pa.table(
        {
            "campaign_id": pa.array(campaign_ids()),
            "name": pa.array([c[0] for c in CAMPAIGNS]),
            "channel": pa.array([c[1] for c in CAMPAIGNS]),
            "start_date": pa.array(starts),
            "end_date": pa.array(starts + np.timedelta64(34, "D")),
            "goal": pa.array([c[2] for c in CAMPAIGNS]),
            "offer": pa.array([c[3] for c in CAMPAIGNS]),
            "cost_per_contact": pa.array([c[4] for c in CAMPAIGNS]),
        }
    )
