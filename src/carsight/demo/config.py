"""The demo business's knobs.

Every planted effect size as a named constant, so that docs/demo-data.md and the truth functions
refer to one place (analytics must NOT import these).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# ---- calendar -------------------------------------------------------------------------------
HISTORY_START = dt.date(2016, 1, 1)  # first purchases of long-standing customers
WINDOW_START = dt.date(2023, 1, 1)  # leads, service, consultations and campaigns are dated from here
WINDOW_END = dt.date(2025, 12, 31)
SALES_START = dt.date(2019, 1, 1)  # sales_monthly: 84 months
SALES_END = dt.date(2025, 12, 1)

# Customers are processed in blocks of this many, each with its own random stream, so memory stays
# bounded at 1M customers and the output for a seed does not depend on the machine.
CHUNK_CUSTOMERS = 250_000


def month_index(year: int, month: int) -> int:
    """Months since HISTORY_START (0 = 2016-01)."""
    return (year - HISTORY_START.year) * 12 + (month - 1)


N_MONTHS = month_index(WINDOW_END.year, WINDOW_END.month) + 1  # 120
WINDOW_FIRST_MONTH = month_index(WINDOW_START.year, WINDOW_START.month)  # 84

# ---- customer types -------------------------------------------------------------------------
TYPES = (
    "young_urban_ev",
    "family_suv",
    "premium_loyalist",
    "first_time_compact",
    "business_fleet",
    "retiree_sedan",
)
# Share of customers of each type.
TYPE_SHARES = (0.17, 0.27, 0.11, 0.20, 0.08, 0.17)
# Probability that one purchase ignores the type's taste and follows the general market instead
# (the realistic overlap between types).
OFF_TASTE_PURCHASE = 0.08


@dataclass(frozen=True)
class RepurchaseEffects:
    """Monthly repurchase hazard = background + shopping, capped at ``cap``.

    Background = base[type] × the multipliers that apply (purchases nobody saw coming) and shopping
    = ``shopping_monthly`` for a customer who is in the market (ShoppingIntent).
    """

    base_monthly: dict[str, float] = field(
        default_factory=lambda: {
            "young_urban_ev": 0.0035,
            "family_suv": 0.0028,
            "premium_loyalist": 0.0042,
            "first_time_compact": 0.0021,
            "business_fleet": 0.0077,
            "retiree_sedan": 0.0024,
        }
    )
    service_180d: float = 1.5  # a service visit in the last 180 days (6 months incl. this one)
    car_age_over_4y: float = 2.0  # current car older than 48 months
    car_age_under_1y: float = 0.25  # bought a car less than 12 months ago
    repeat_buyer: float = 1.3  # two or more purchases so far
    campaign_response_60d: float = 2.0  # responded to a campaign in the last 60 days (2 months)
    shopping_monthly: float = 0.30  # added for a customer in the market since before this month
    cap: float = 0.5


@dataclass(frozen=True)
class ShoppingIntent:
    """A hidden "in the market" state.

    A customer starts shopping with a monthly probability that grows steeply with the age of their
    car, shops for a few months (leaving the market without buying with ``give_up_monthly``), and
    while shopping produces web inquiries, quotes, showroom visits and test drives, so those leads
    are the observable precursors of a purchase. A purchase ends the state; it can happen at the
    earliest in the month after shopping starts.
    """

    start_monthly: dict[str, float] = field(
        default_factory=lambda: {
            "young_urban_ev": 0.0090,
            "family_suv": 0.0072,
            "premium_loyalist": 0.0110,
            "first_time_compact": 0.0055,
            "business_fleet": 0.0200,
            "retiree_sedan": 0.0060,
        }
    )
    # × on the start probability by the age of the current car (months): [0, 12), [12, 60),
    # [60, 84), 84 and older (cars are replaced after 5–7 years and more).
    car_age_bounds: tuple[int, ...] = (12, 60, 84)
    car_age_factor: tuple[float, ...] = (0.1, 1.0, 2.5, 4.0)
    high_mileage_km: float = 100_000.0  # × high_mileage when the current car has driven more than this
    high_mileage: float = 1.5
    campaign_response_60d: float = 2.0  # × when the customer responded to a campaign in the last 60 days
    give_up_monthly: float = 0.12
    # Monthly probability of each kind of lead while shopping (the first month: web inquiry more likely).
    web_inquiry_first: float = 0.85
    web_inquiry: float = 0.45
    quote: float = 0.40
    showroom_visit: float = 0.25
    test_drive: float = 0.30


@dataclass(frozen=True)
class BehaviourRates:
    """Monthly probabilities of the events that drive the hazard.

    They do not depend on whether the customer is about to buy, so the truth stays a clean function
    of the observable history.
    """

    test_drive_base: float = 0.005
    test_drive_old_car: float = 2.5  # × when the car is older than 48 months
    test_drive_type: dict[str, float] = field(
        default_factory=lambda: {
            "young_urban_ev": 1.8,
            "family_suv": 1.2,
            "premium_loyalist": 1.0,
            "first_time_compact": 0.8,
            "business_fleet": 0.4,
            "retiree_sedan": 0.7,
        }
    )
    service_base: float = 0.07
    service_per_year_of_age: float = 0.008  # older cars come in more often
    service_type: dict[str, float] = field(
        default_factory=lambda: {
            "young_urban_ev": 0.6,  # EVs need less maintenance
            "family_suv": 1.0,
            "premium_loyalist": 1.3,
            "first_time_compact": 0.8,
            "business_fleet": 1.8,
            "retiree_sedan": 1.1,
        }
    )
    # Kilometres driven a month: type mean × a per-customer log-normal factor (sd of the log).
    km_per_month: dict[str, float] = field(
        default_factory=lambda: {
            "young_urban_ev": 1_100.0,
            "family_suv": 1_300.0,
            "premium_loyalist": 1_100.0,
            "first_time_compact": 1_000.0,
            "business_fleet": 3_200.0,
            "retiree_sedan": 800.0,
        }
    )
    km_spread: float = 0.35
    other_leads_per_year: float = 0.8  # web inquiries, quotes, showroom visits of known customers
    anonymous_lead_share: float = 0.15  # leads without a customer number, on top
    consultations_per_year: float = 0.40


@dataclass(frozen=True)
class CampaignEffects:
    """Response probability = sigmoid(intercept[type] + the terms that apply)."""

    intercept: dict[str, float] = field(
        default_factory=lambda: {
            "young_urban_ev": -2.6,
            "family_suv": -2.5,
            "premium_loyalist": -1.9,
            "first_time_compact": -3.3,
            "business_fleet": -2.9,
            "retiree_sedan": -3.1,
        }
    )
    car_age_over_3y: float = 0.9  # logit + when the current car is older than 36 months
    opened_previous: float = 0.8  # logit + when the customer opened any earlier campaign
    opt_in: float = 0.6  # logit + for marketing opt-in
    recent_purchase_12m: float = -1.0  # logit + when they bought in the last 12 months
    open_rate: float = 0.35  # base probability of opening a message (× 1.5 for opt-in)
    contact_share_opt_in: float = 0.35  # share of opted-in customers a campaign reaches
    contact_share_opt_out: float = 0.08  # service notices also reach customers without opt-in


REPURCHASE = RepurchaseEffects()
SHOPPING = ShoppingIntent()
BEHAVIOUR = BehaviourRates()
CAMPAIGN = CampaignEffects()

# ---- consultations --------------------------------------------------------------------------
UNLABELLED_SHARE = 0.10  # consultations with no agent category
NOISY_LABEL_SHARE = 0.03  # consultations whose agent category is wrong
ENGLISH_SHARE = 0.05
OTA_RISE_START = dt.date(2025, 7, 1)  # "OTA 업데이트 오류" complaints for EV models, 2025-Q3
OTA_RISE_END = dt.date(2025, 9, 30)
OTA_RISE_SHARE = 0.35  # share of EV consultations in that quarter that are OTA complaints
RECALL_MODEL = "Sorento"
RECALL_START = dt.date(2024, 9, 1)
RECALL_END = dt.date(2025, 2, 28)
RECALL_CONSULTATION_SHARE = 0.45  # share of that model's consultations about the recall in the period
RECALL_SERVICE_MONTHLY = 0.12  # monthly chance an owner brings the car in for the recall

# ---- sales_monthly --------------------------------------------------------------------------
# Planted "sells unusually well here" multipliers on a model's share in a market.
MARKET_AFFINITY: dict[tuple[str, str], float] = {
    ("G70", "Korea"): 3.0,
    ("G80", "Korea"): 3.0,
    ("Santa Fe", "USA"): 3.0,
    ("Santa Fe", "Canada"): 3.0,
    ("Palisade", "USA"): 3.0,
    ("Palisade", "Canada"): 3.0,
    ("Seltos", "India"): 4.0,
    ("G90", "Saudi Arabia"): 3.0,
    **{(m, c): 2.5 for m in ("IONIQ 5", "IONIQ 6", "EV6", "EV9", "GV60") for c in ("Germany", "UK")},
}
SHOCK_START = dt.date(2021, 5, 1)  # chip shortage: every series × SHOCK_DEPTH in 2021-05..2021-09,
SHOCK_END = dt.date(2021, 9, 1)
SHOCK_DEPTH = 0.55
SHOCK_RECOVERED = dt.date(2022, 2, 1)  # then linear recovery to normal by 2022-02
# A recurring domestic incentive (a maker's sales campaign, run in irregular months, so the season
# cannot absorb it): Korean sales × INCENTIVE_UPLIFT in INCENTIVE_MONTHS. The events file declares
# them, the 2021 shock, and the next campaign after the data ends (INCENTIVE_NEXT).
INCENTIVE_NAME = "내수 판촉 캠페인"
INCENTIVE_MARKET = "Korea"
INCENTIVE_MONTHS = (
    dt.date(2019, 6, 1),
    dt.date(2020, 9, 1),
    dt.date(2021, 3, 1),
    dt.date(2022, 7, 1),
    dt.date(2023, 4, 1),
    dt.date(2024, 9, 1),
    dt.date(2025, 5, 1),
)
INCENTIVE_UPLIFT = 1.25
INCENTIVE_NEXT = dt.date(2026, 3, 1)
SHOCK_NAME = "반도체 공급 부족"  # declared from SHOCK_START to the month before SHOCK_RECOVERED
MESSY_SALES_KIND = "export"  # written as CP949 wide files 수출실적_<year>.csv

# ---- planted bad rows -----------------------------------------------------------------------
# Rows appended to the first purchases file that ingest must quarantine (docs/demo-data.md).
BAD_PURCHASE_ROWS = 4
