"""The demo line-up: Hyundai, Kia and Genesis models sold in Korea, with what each customer type tends to buy.

Written as an Excel file with Korean headers and values (the xlsx ingest path).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Model:
    """One model of the demo line-up."""

    model: str
    brand: str
    segment: str
    body_type: str
    powertrain: str
    launch: dt.date
    discontinued: dt.date | None
    base_price: int  # KRW, 2025 list price
    korea_monthly: int  # typical domestic units per month (sales_monthly scale)
    korean_name: str


def _d(text: str | None) -> dt.date | None:
    if text is None:
        return None
    y, m = text.split("-")
    return dt.date(int(y), int(m), 1)


_LINEUP = [
    # model, brand, segment, body, powertrain, launch, discontinued, price, korea/month, 한글명
    ("Casper", "Hyundai", "A", "suv", "ICE", "2021-09", None, 14_600_000, 3_000, "캐스퍼"),
    ("Avante", "Hyundai", "C", "sedan", "ICE", "1995-03", None, 20_340_000, 5_500, "아반떼"),
    ("Sonata", "Hyundai", "D", "sedan", "ICE", "1985-11", None, 27_880_000, 4_200, "쏘나타"),
    ("Grandeur", "Hyundai", "E", "sedan", "HEV", "1986-07", None, 37_980_000, 8_000, "그랜저"),
    ("IONIQ", "Hyundai", "C", "hatchback", "HEV", "2016-01", "2022-06", 24_850_000, 900, "아이오닉"),
    ("Kona", "Hyundai", "B", "suv", "ICE", "2017-06", None, 24_860_000, 2_500, "코나"),
    ("Tucson", "Hyundai", "C", "suv", "HEV", "2004-03", None, 34_030_000, 4_500, "투싼"),
    ("Santa Fe", "Hyundai", "D", "suv", "HEV", "2000-06", None, 40_010_000, 6_000, "싼타페"),
    ("Palisade", "Hyundai", "E", "suv", "ICE", "2018-12", None, 43_830_000, 3_500, "팰리세이드"),
    ("IONIQ 5", "Hyundai", "D", "suv", "EV", "2021-04", None, 52_000_000, 2_000, "아이오닉 5"),
    ("IONIQ 6", "Hyundai", "D", "sedan", "EV", "2022-09", None, 50_400_000, 900, "아이오닉 6"),
    ("Staria", "Hyundai", "M", "van", "ICE", "2021-04", None, 30_100_000, 3_000, "스타리아"),
    ("Porter", "Hyundai", "T", "truck", "ICE", "1977-01", None, 20_900_000, 7_000, "포터"),
    ("K5", "Kia", "D", "sedan", "ICE", "2010-05", None, 27_660_000, 3_800, "K5"),
    ("K8", "Kia", "E", "sedan", "HEV", "2021-04", None, 37_360_000, 3_900, "K8"),
    ("Stinger", "Kia", "E", "sedan", "ICE", "2017-05", "2023-04", 39_000_000, 350, "스팅어"),
    ("Seltos", "Kia", "B", "suv", "ICE", "2019-07", None, 21_600_000, 4_000, "셀토스"),
    ("Sportage", "Kia", "C", "suv", "HEV", "1993-07", None, 33_540_000, 6_000, "스포티지"),
    ("Sorento", "Kia", "D", "suv", "HEV", "2002-02", None, 39_500_000, 7_500, "쏘렌토"),
    ("Carnival", "Kia", "M", "mpv", "ICE", "1998-01", None, 35_700_000, 6_500, "카니발"),
    ("EV6", "Kia", "D", "suv", "EV", "2021-08", None, 50_000_000, 1_500, "EV6"),
    ("EV9", "Kia", "E", "suv", "EV", "2023-06", None, 73_370_000, 500, "EV9"),
    ("G70", "Genesis", "D", "sedan", "ICE", "2017-09", None, 43_400_000, 700, "G70"),
    ("G80", "Genesis", "E", "sedan", "ICE", "2016-08", None, 59_000_000, 4_500, "G80"),
    ("G90", "Genesis", "F", "sedan", "ICE", "2018-11", None, 96_000_000, 1_200, "G90"),
    ("GV70", "Genesis", "D", "suv", "ICE", "2020-12", None, 53_800_000, 2_500, "GV70"),
    ("GV80", "Genesis", "E", "suv", "ICE", "2020-01", None, 69_300_000, 2_600, "GV80"),
    ("GV60", "Genesis", "D", "suv", "EV", "2021-10", None, 66_900_000, 300, "GV60"),
]

LINEUP: tuple[Model, ...] = tuple(
    Model(m, b, s, bt, pt, _d(la), _d(dc), price, km, kn) for m, b, s, bt, pt, la, dc, price, km, kn in _LINEUP
)
MODEL_NAMES: tuple[str, ...] = tuple(m.model for m in LINEUP)
MODEL_INDEX = {m.model: i for i, m in enumerate(LINEUP)}
EV_MODELS = tuple(m.model for m in LINEUP if m.powertrain == "EV")

# What each customer type buys when it follows its taste (relative weights; models not listed: 0).
TASTES: dict[str, dict[str, float]] = {
    "young_urban_ev": {"IONIQ 5": 30, "EV6": 25, "IONIQ 6": 20, "GV60": 8, "EV9": 4},
    "family_suv": {"Tucson": 22, "Sportage": 22, "Sorento": 25, "Santa Fe": 21, "Palisade": 4, "Carnival": 6},
    "premium_loyalist": {"G80": 35, "GV80": 22, "G90": 15, "GV70": 15, "G70": 8, "Stinger": 5},
    "first_time_compact": {"Avante": 35, "Casper": 18, "Seltos": 18, "Kona": 15, "K5": 8},
    "business_fleet": {"Porter": 40, "Staria": 30, "Carnival": 20, "Sonata": 5},
    "retiree_sedan": {"Grandeur": 35, "K8": 25, "Sonata": 20, "K5": 10, "G80": 5, "Avante": 5},
}

_BODY_KO = {"sedan": "세단", "suv": "SUV", "hatchback": "해치백", "mpv": "미니밴", "van": "승합", "truck": "트럭"}
_POWER_KO = {"ICE": "가솔린", "HEV": "하이브리드", "PHEV": "플러그인 하이브리드", "EV": "전기"}

# Korean headers of the Excel file (recognised by the ingest synonym dictionary).
VEHICLE_HEADERS = {
    "model": "모델명",
    "brand": "브랜드",
    "segment": "차급",
    "body_type": "차체형태",
    "powertrain": "연료구분",
    "launch_month": "출시월",
    "discontinued_month": "단종월",
    "base_price": "기본가격(원)",
}


def vehicles_frame() -> pd.DataFrame:
    """The line-up with canonical column names and values (as it should land in the warehouse)."""
    return pd.DataFrame(
        {
            "model": [m.model for m in LINEUP],
            "brand": [m.brand for m in LINEUP],
            "segment": [m.segment for m in LINEUP],
            "body_type": [m.body_type for m in LINEUP],
            "powertrain": [m.powertrain for m in LINEUP],
            "launch_month": [m.launch for m in LINEUP],
            "discontinued_month": [m.discontinued for m in LINEUP],
            "base_price": [m.base_price for m in LINEUP],
        }
    )


def vehicles_file_frame() -> pd.DataFrame:
    """The line-up as the importer's product team keeps it: Korean headers and values.

    Brands stay in English because every other file names them that way.
    """
    frame = vehicles_frame()
    frame["body_type"] = frame["body_type"].map(_BODY_KO)
    frame["powertrain"] = frame["powertrain"].map(_POWER_KO)
    frame["launch_month"] = [d.strftime("%Y-%m") for d in frame["launch_month"]]
    frame["discontinued_month"] = [d.strftime("%Y-%m") if d else "" for d in frame["discontinued_month"]]
    return frame.rename(columns=VEHICLE_HEADERS)


def availability(months: np.ndarray) -> np.ndarray:
    """(len(months), n_models) bool: which models are on sale in each month index."""
    from carsight.demo.config import month_index

    launch = np.array([month_index(m.launch.year, m.launch.month) for m in LINEUP])
    end = np.array(
        [month_index(m.discontinued.year, m.discontinued.month) if m.discontinued else 10_000 for m in LINEUP]
    )
    months = np.asarray(months)[:, None]
    return (months >= launch[None, :]) & (months <= end[None, :])


def taste_matrix(types: tuple[str, ...]) -> np.ndarray:
    """(n_types, n_models) purchase weights when a customer follows their type's taste."""
    out = np.zeros((len(types), len(LINEUP)))
    for i, name in enumerate(types):
        for model, weight in TASTES[name].items():
            out[i, MODEL_INDEX[model]] = weight
    return out


def market_weights() -> np.ndarray:
    """Weights of the general market (used for off-taste purchases): domestic volumes."""
    return np.array([m.korea_monthly for m in LINEUP], dtype=float)


def base_prices() -> np.ndarray:
    """Base prices of the line-up, in line-up order."""
    return np.array([m.base_price for m in LINEUP], dtype=float)


def brands() -> np.ndarray:
    """Brands of the line-up, in line-up order."""
    return np.array([m.brand for m in LINEUP], dtype=object)
