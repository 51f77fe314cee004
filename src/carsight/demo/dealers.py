"""The demo's dealers: 22 showrooms over the 17 시/도, and which dealer each customer and record belongs to.

Big-city dealers are larger (a weight per dealer); a customer belongs to a dealer of their own
region (or of the neighbouring city that serves it), a few to one elsewhere (they moved or bought
where they work). Their purchases, leads and consultations carry that dealer; a few purchases and
more service visits happen at another dealer. Every draw comes from a stream of its own
(:func:`dealer_rng`), so the rest of the demo (its planted effects included) is the same with or
without dealers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from carsight.demo.customers import REGION_NAMES

# code, name, region (시/도), branch (sales district), relative size, other regions it serves
_DEALERS: tuple[tuple[str, str, str, str, float, tuple[str, ...]], ...] = (
    ("D01", "서울 강남지점", "서울특별시", "수도권", 9.0, ()),
    ("D02", "서울 송파지점", "서울특별시", "수도권", 6.0, ()),
    ("D03", "서울 마포지점", "서울특별시", "수도권", 4.0, ()),
    ("D04", "서울 노원지점", "서울특별시", "수도권", 3.0, ()),
    ("D05", "제네시스 강남", "서울특별시", "수도권", 3.0, ()),
    ("D06", "경기 분당지점", "경기도", "수도권", 7.0, ()),
    ("D07", "경기 수원지점", "경기도", "수도권", 6.0, ()),
    ("D08", "경기 일산지점", "경기도", "수도권", 4.0, ()),
    ("D09", "인천 남동지점", "인천광역시", "수도권", 4.0, ()),
    ("D10", "부산 해운대지점", "부산광역시", "영남", 5.0, ()),
    ("D11", "부산 동래지점", "부산광역시", "영남", 3.0, ()),
    ("D12", "대구 수성지점", "대구광역시", "영남", 4.0, ()),
    ("D13", "울산 남구지점", "울산광역시", "영남", 2.0, ()),
    ("D14", "경남 창원지점", "경상남도", "영남", 3.0, ()),
    ("D15", "경북 포항지점", "경상북도", "영남", 2.0, ()),
    ("D16", "광주 상무지점", "광주광역시", "호남", 3.0, ("전라남도",)),
    ("D17", "전북 전주지점", "전북특별자치도", "호남", 2.0, ()),
    ("D18", "대전 둔산지점", "대전광역시", "충청", 3.0, ("세종특별자치시",)),
    ("D19", "충남 천안지점", "충청남도", "충청", 2.0, ()),
    ("D20", "충북 청주지점", "충청북도", "충청", 2.0, ()),
    ("D21", "강원 원주지점", "강원특별자치도", "강원", 1.5, ()),
    ("D22", "제주 지점", "제주특별자치도", "제주", 1.0, ()),
)
CODES = np.array([d[0] for d in _DEALERS], dtype=object)
NAMES = np.array([d[1] for d in _DEALERS], dtype=object)
_WEIGHTS = np.array([d[4] for d in _DEALERS])

# A customer looked after by a dealer outside their region (moved, or bought near work).
AWAY_CUSTOMER_SHARE = 0.04
# Records at another dealer than the customer's own: a purchase now and then, service more often.
AWAY_PURCHASE_SHARE = 0.05
AWAY_SERVICE_SHARE = 0.12

# One stream per use, numbered after the block's three (profile, simulation, file contents).
CUSTOMERS, PURCHASES, LEADS, SERVICE = range(4)


def dealer_rng(seed: int, block: int, use: int) -> np.random.Generator:
    """The random stream of one dealer draw (``use``: :data:`CUSTOMERS`, :data:`PURCHASES`, …) of a block."""
    return np.random.default_rng(np.random.SeedSequence([seed, block, 3, use]))


def dealers_table() -> pa.Table:
    """The dealers file: code, name, region and branch of every dealer."""
    return pa.table(
        {
            "dealer_code": pa.array(CODES.tolist(), pa.string()),
            "name": pa.array(NAMES.tolist(), pa.string()),
            "region": pa.array([d[2] for d in _DEALERS], pa.string()),
            "branch": pa.array([d[3] for d in _DEALERS], pa.string()),
        }
    )


def _by_weight(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` dealer indexes drawn by size."""
    cum = np.cumsum(_WEIGHTS)
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right").clip(0, len(_WEIGHTS) - 1)


def home_dealers(region_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The dealer index of each customer, from their region (index into ``REGION_NAMES``)."""
    serves = np.array(
        [[d[2] == region or region in d[5] for d in _DEALERS] for region in REGION_NAMES], dtype=float
    )  # region × dealer
    cum = np.cumsum(serves * _WEIGHTS[None, :], axis=1)
    cum /= cum[:, -1:]
    region_idx = np.asarray(region_idx, dtype=np.int64)
    u = rng.random(len(region_idx))
    local = (cum[region_idx] < u[:, None]).sum(axis=1).clip(0, len(_WEIGHTS) - 1)
    away = rng.random(len(region_idx)) < AWAY_CUSTOMER_SHARE
    return np.where(away, _by_weight(rng, len(region_idx)), local)


def record_dealers(home: np.ndarray, away_share: float, rng: np.random.Generator) -> np.ndarray:
    """Each record's dealer index: the customer's own (``home``), or another by size with ``away_share``."""
    home = np.asarray(home, dtype=np.int64)
    away = rng.random(len(home)) < away_share
    return np.where(away, _by_weight(rng, len(home)), home)


def anonymous_dealers(n: int, rng: np.random.Generator) -> np.ndarray:
    """The dealer index of records without a customer (a walk-in, a web form), by size."""
    return _by_weight(rng, n)


def codes(index: np.ndarray) -> pa.Array:
    """Dealer codes of dealer indexes."""
    return pa.array(CODES[np.asarray(index, dtype=np.int64)].tolist(), pa.string())
