"""Demo customers.

The hidden type of each customer, the profile that follows from it (age, gender, region, join month,
opt-in, channel) and the personal data (Korean names, e-mail, phone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carsight.demo import config as C

# The 17 시/도 with their approximate share of the population (2024).
REGIONS = (
    ("경기도", 26.5),
    ("서울특별시", 18.2),
    ("부산광역시", 6.4),
    ("경상남도", 6.3),
    ("인천광역시", 5.7),
    ("경상북도", 5.0),
    ("대구광역시", 4.6),
    ("충청남도", 4.2),
    ("전라남도", 3.5),
    ("전북특별자치도", 3.4),
    ("충청북도", 3.1),
    ("강원특별자치도", 2.9),
    ("대전광역시", 2.8),
    ("광주광역시", 2.8),
    ("울산광역시", 2.1),
    ("제주특별자치도", 1.3),
    ("세종특별자치시", 0.7),
)
REGION_NAMES = tuple(r for r, _ in REGIONS)
_CAPITAL = {"서울특별시", "경기도", "인천광역시"}


# Per type: mean and sd of age in 2025, share male, region tilt, opt-in rate, acquisition channel mix.
@dataclass(frozen=True)
class TypeProfile:
    """What a customer type looks like: age, gender, region and channel mixes."""

    age_mean: float
    age_sd: float
    age_min: int
    age_max: int
    male: float
    region_tilt: dict[str, float]
    opt_in: float
    channels: dict[str, float]
    payments: dict[str, float]
    purchase_channels: dict[str, float]
    options: tuple[float, float]  # options on top of the base price (uniform range)
    discount: tuple[float, float]
    first_join_month: int  # earliest join (month index)


PROFILES: dict[str, TypeProfile] = {
    "young_urban_ev": TypeProfile(
        32,
        4.5,
        22,
        45,
        0.62,
        {"서울특별시": 2.5, "경기도": 1.4, "세종특별자치시": 3.0, "인천광역시": 1.0, "*": 0.45},
        0.72,
        {"web": 0.45, "app": 0.35, "showroom": 0.15, "referral": 0.05},
        {"cash": 0.12, "installment": 0.33, "lease": 0.40, "rent": 0.15},
        {"online": 0.55, "showroom": 0.40, "referral": 0.05},
        (0.05, 0.15),
        (0.0, 0.04),
        C.month_index(2021, 4),
    ),
    "family_suv": TypeProfile(
        44,
        5.0,
        32,
        60,
        0.55,
        {"경기도": 1.5, "인천광역시": 1.3, "*": 1.0},
        0.60,
        {"showroom": 0.55, "web": 0.25, "referral": 0.15, "app": 0.05},
        {"cash": 0.12, "installment": 0.68, "lease": 0.10, "rent": 0.10},
        {"showroom": 0.80, "online": 0.12, "referral": 0.08},
        (0.05, 0.18),
        (0.0, 0.05),
        0,
    ),
    "premium_loyalist": TypeProfile(
        53,
        5.5,
        40,
        72,
        0.76,
        {"서울특별시": 2.6, "부산광역시": 1.5, "대구광역시": 1.3, "*": 0.55},
        0.50,
        {"showroom": 0.55, "referral": 0.35, "web": 0.08, "app": 0.02},
        {"cash": 0.40, "installment": 0.08, "lease": 0.45, "rent": 0.07},
        {"showroom": 0.65, "referral": 0.33, "online": 0.02},
        (0.10, 0.30),
        (0.0, 0.03),
        0,
    ),
    "first_time_compact": TypeProfile(
        27,
        3.5,
        19,
        38,
        0.50,
        {"*": 1.0},
        0.65,
        {"web": 0.40, "showroom": 0.35, "app": 0.15, "referral": 0.10},
        {"cash": 0.18, "installment": 0.72, "lease": 0.04, "rent": 0.06},
        {"showroom": 0.60, "online": 0.35, "referral": 0.05},
        (0.0, 0.08),
        (0.0, 0.05),
        0,
    ),
    "business_fleet": TypeProfile(
        48,
        6.5,
        30,
        70,
        0.88,
        {"경기도": 1.5, "경상남도": 1.9, "울산광역시": 2.6, "충청남도": 1.9, "서울특별시": 0.5, "*": 0.9},
        0.38,
        {"fleet": 0.70, "referral": 0.15, "showroom": 0.15},
        {"cash": 0.08, "installment": 0.10, "lease": 0.47, "rent": 0.35},
        {"fleet_b2b": 0.80, "showroom": 0.20},
        (0.0, 0.05),
        (0.05, 0.12),
        0,
    ),
    "retiree_sedan": TypeProfile(
        70,
        5.0,
        60,
        88,
        0.62,
        {"전라남도": 2.0, "경상북도": 2.0, "서울특별시": 0.6, "경기도": 0.7, "인천광역시": 0.8, "*": 1.4},
        0.35,
        {"showroom": 0.75, "referral": 0.20, "web": 0.05},
        {"cash": 0.78, "installment": 0.17, "lease": 0.03, "rent": 0.02},
        {"showroom": 0.88, "referral": 0.12},
        (0.05, 0.15),
        (0.0, 0.04),
        0,
    ),
}

REFERENCE_YEAR = 2025  # ages above are in this year


def _region_probs(tilt: dict[str, float]) -> np.ndarray:
    default = tilt.get("*", 1.0)
    w = np.array([share * tilt.get(name, default) for name, share in REGIONS])
    return w / w.sum()


def _pick(rng: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.cumsum(probs) / probs.sum(), rng.random(n), side="right").clip(0, len(probs) - 1)


@dataclass
class Static:
    """What the simulation needs to know about a block of customers (all arrays of length n)."""

    type_idx: np.ndarray
    join_month: np.ndarray
    opt_in: np.ndarray
    age: np.ndarray
    male: np.ndarray
    region_idx: np.ndarray
    channel: np.ndarray  # object array of acquisition channels
    join_day: np.ndarray  # where in the join month the customer joined (0..1)
    km_month: np.ndarray  # how far the customer drives a month (km); drives the mileage and shopping


def static_customers(n: int, rng: np.random.Generator) -> Static:
    """Draw the hidden type and the profile of ``n`` customers."""
    type_idx = _pick(rng, n, np.array(C.TYPE_SHARES))
    age = np.empty(n)
    male = np.empty(n, dtype=bool)
    region = np.empty(n, dtype=np.int64)
    opt_in = np.empty(n, dtype=bool)
    join = np.empty(n, dtype=np.int64)
    channel = np.empty(n, dtype=object)
    u = rng.random((n, 6))
    z = rng.standard_normal(n)
    for t, name in enumerate(C.TYPES):
        p = PROFILES[name]
        idx = np.flatnonzero(type_idx == t)
        age[idx] = np.clip(p.age_mean + p.age_sd * z[idx], p.age_min, p.age_max)
        male[idx] = u[idx, 0] < p.male
        cum = np.cumsum(_region_probs(p.region_tilt))
        region[idx] = np.searchsorted(cum, u[idx, 1] * cum[-1], side="right").clip(0, len(REGIONS) - 1)
        opt_in[idx] = u[idx, 2] < p.opt_in
        # Joins grow over time (a growing customer base); the EV type arrives later.
        first = p.first_join_month
        span = C.N_MONTHS - first
        join[idx] = first + np.floor(span * u[idx, 3] ** (1 / 1.3)).astype(np.int64).clip(0, span - 1)
        names = np.array(list(p.channels), dtype=object)
        probs = np.array(list(p.channels.values()))
        channel[idx] = names[
            np.searchsorted(np.cumsum(probs), u[idx, 4] * probs.sum(), side="right").clip(0, len(names) - 1)
        ]
    # Drawn after everything above, so the profile of every customer is the same as without it.
    km = _lookup_types(C.BEHAVIOUR.km_per_month)[type_idx] * rng.lognormal(0.0, C.BEHAVIOUR.km_spread, n)
    return Static(type_idx, join, opt_in, np.round(age).astype(np.int64), male, region, channel, u[:, 5], km)


def _lookup_types(table: dict[str, float]) -> np.ndarray:
    return np.array([table[name] for name in C.TYPES])


# ---- personal data --------------------------------------------------------------------------
SURNAMES = (
    ("김", 21.5),
    ("이", 14.7),
    ("박", 8.4),
    ("최", 4.7),
    ("정", 4.3),
    ("강", 2.4),
    ("조", 2.1),
    ("윤", 2.1),
    ("장", 2.0),
    ("임", 1.7),
    ("한", 1.5),
    ("오", 1.5),
    ("서", 1.5),
    ("신", 1.4),
    ("권", 1.4),
    ("황", 1.4),
    ("안", 1.4),
    ("송", 1.3),
    ("류", 1.2),
    ("전", 1.1),
    ("홍", 1.1),
    ("고", 0.9),
    ("문", 0.9),
    ("양", 0.9),
    ("손", 0.9),
    ("배", 0.8),
    ("백", 0.8),
    ("허", 0.6),
    ("유", 0.6),
    ("남", 0.5),
    ("심", 0.5),
    ("노", 0.5),
)
_MALE_SYLLABLES = list("민준서도예시주하지현우건승유진선재영호석성동수태경훈혁상철")
_FEMALE_SYLLABLES = list("서지민하윤수아은유예채다소연혜영희정미경진주나리현보")
_SURNAME_ROMAN = {
    "김": "kim",
    "이": "lee",
    "박": "park",
    "최": "choi",
    "정": "jung",
    "강": "kang",
    "조": "cho",
    "윤": "yoon",
    "장": "jang",
    "임": "lim",
    "한": "han",
    "오": "oh",
    "서": "seo",
    "신": "shin",
    "권": "kwon",
    "황": "hwang",
    "안": "ahn",
    "송": "song",
    "류": "ryu",
    "전": "jeon",
    "홍": "hong",
    "고": "ko",
    "문": "moon",
    "양": "yang",
    "손": "son",
    "배": "bae",
    "백": "baek",
    "허": "heo",
    "유": "yu",
    "남": "nam",
    "심": "shim",
    "노": "noh",
}
EMAIL_DOMAINS = ("naver.com", "gmail.com", "daum.net", "hanmail.net", "kakao.com", "nate.com")
_DOMAIN_P = np.array([0.45, 0.28, 0.10, 0.07, 0.06, 0.04])


def korean_names(rng: np.random.Generator, male: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Korean full names and the romanised surname (for e-mail addresses)."""
    n = len(male)
    sur = np.array([s for s, _ in SURNAMES], dtype=object)
    sur_p = np.array([w for _, w in SURNAMES])
    s_idx = _pick(rng, n, sur_p)
    ms, fs = np.array(_MALE_SYLLABLES, dtype=object), np.array(_FEMALE_SYLLABLES, dtype=object)
    a = rng.integers(0, len(ms), (n, 2))
    given1 = np.where(male, ms[a[:, 0] % len(ms)], fs[a[:, 0] % len(fs)])
    given2 = np.where(male, ms[a[:, 1] % len(ms)], fs[a[:, 1] % len(fs)])
    names = pc.binary_join_element_wise(
        pa.array(sur[s_idx], pa.string()), pa.array(given1, pa.string()), pa.array(given2, pa.string()), ""
    )
    roman = pa.array(np.array([_SURNAME_ROMAN[s] for s, _ in SURNAMES], dtype=object)[s_idx], pa.string())
    return names, roman


def digits(rng: np.random.Generator, n: int, width: int) -> pa.Array:
    """Zero-padded random digit strings."""
    values = rng.integers(0, 10**width, n)
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, "0")


def phones(rng: np.random.Generator, n: int) -> pa.Array:
    """Mobile numbers ``010-XXXX-XXXX``."""
    return pc.binary_join_element_wise("010", digits(rng, n, 4), digits(rng, n, 4), "-")


def emails(rng: np.random.Generator, roman: pa.Array) -> pa.Array:
    """E-mail addresses from romanised names."""
    n = len(roman)
    domain = pa.array(np.array(EMAIL_DOMAINS, dtype=object)[_pick(rng, n, _DOMAIN_P)], pa.string())
    local = pc.binary_join_element_wise(roman, digits(rng, n, 5), "")
    return pc.binary_join_element_wise(local, domain, "@")
