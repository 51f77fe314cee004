"""Every candidate by name, the named candidate sets, and the candidates of each series class.

Also the named sets ``--models fast|standard|full`` take, and the fixed combination each class falls
back on.

The fixed combination, for every class of series, is the mean of ETS, Theta and CES (Hyndman's and Petropoulos' "comb"
benchmarks; the mean of these three was among the strongest simple methods in the M4 competition).
The selection scheme (:mod:`carsight.market.selection`) keeps it unless the backtest shows another
scheme clearly better on the data at hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from carsight.errors import InputError
from carsight.market import local as L
from carsight.market.candidates import BorrowedSeason, Candidate, GlobalLightGBM
from carsight.market.local import LocalModel

CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        LocalModel("SeasonalNaive", L.seasonal_naive),
        LocalModel("Naive", L.naive),
        LocalModel("AutoETS", L.auto_ets, L.ets_form, exact_form=L.ets_exact_form),
        LocalModel("ETS", L.additive_ets, L.ets_form, exact_form=L.ets_exact_form),
        LocalModel("LogETS", L.log_ets, L.ets_form, log=True, exact_form=L.ets_exact_form),
        LocalModel("AutoTheta", L.auto_theta, L.theta_form),
        LocalModel("AutoCES", L.auto_ces, L.ces_form, rollable=L.ces_stable),
        LocalModel("AutoARIMA", L.auto_arima),
        LocalModel("SES", L.ses),
        LocalModel("Holt", L.holt),
        LocalModel("DampedHolt", L.damped_holt),
        LocalModel("CrostonOptimized", L.croston),
        LocalModel("TSB", L.tsb),
        LocalModel("ADIDA", L.adida),
        LocalModel("IMAPA", L.imapa),
        BorrowedSeason(),
        GlobalLightGBM(),
    )
}


@dataclass(frozen=True)
class ModelSet:
    """Candidates for seasonal series and the members of the fixed combination."""

    seasonal: tuple[str, ...]
    combination: tuple[str, ...]


# "standard" is what a planner should compare with: the full AutoETS search, AutoTheta and AutoCES.
# "fast" searches only additive ETS forms (about a quarter of the work). "full" adds AutoARIMA (about
# 10× the cost of ETS on monthly series), ETS on log1p(y) and a global LightGBM model; profiled on
# 1,400 series × 100 months they cost more time than they gained (docs/market.md).
MODEL_SETS: dict[str, ModelSet] = {
    "fast": ModelSet(("SeasonalNaive", "ETS", "AutoTheta", "AutoCES"), ("ETS", "AutoTheta", "AutoCES")),
    "standard": ModelSet(("SeasonalNaive", "AutoETS", "AutoTheta", "AutoCES"), ("AutoETS", "AutoTheta", "AutoCES")),
    "full": ModelSet(
        ("SeasonalNaive", "AutoETS", "AutoTheta", "AutoCES", "AutoARIMA", "LogETS", "LightGBM"),
        ("AutoETS", "AutoTheta", "AutoCES"),
    ),
}
# Short series (less than two seasons before the earliest backtest origin): the season-aware models
# fall back to non-seasonal forms themselves when a season cannot be estimated; SES, Holt and damped
# Holt are offered on their own too, and the season of the series' group can be borrowed.
SHORT_EXTRA = ("Naive", "SES", "Holt", "DampedHolt", "BorrowedSeason")
# Intermittent series: the Croston-type methods, and the naive forecast (a discontinued model's 0),
# beside the same models and combination as the rest (on the demo's sparse and discontinued series
# the Croston mean was 2.7× the combination's error: it keeps forecasting a rate after sales stop).
INTERMITTENT_EXTRA = ("Naive", "CrostonOptimized", "TSB", "ADIDA", "IMAPA")
GLOBAL_MIN_SERIES = 20  # a global model needs this many seasonal series to learn from


def resolve(models: str | tuple[str, ...] | list[str]) -> ModelSet:
    """The :class:`ModelSet` for a set name or a list of candidate names.

    For a list, the seasonal naive baseline is added when missing, and the combination is all of the
    names except the naive baselines (the seasonal naive forecast alone if nothing else is left).

    Raises
    ------
    InputError
        For an unknown set name or candidate name.
    """
    if isinstance(models, str):
        if models not in MODEL_SETS:
            raise InputError(f"unknown model set '{models}'", column="models", expected=", ".join(MODEL_SETS))
        return MODEL_SETS[models]
    names = tuple(models)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise InputError(
            f"unknown model(s) {', '.join(unknown)}", column="models", expected=", ".join(sorted(CANDIDATES))
        )
    if "SeasonalNaive" not in names:
        names = ("SeasonalNaive", *names)  # the baseline every choice is measured against
    members = tuple(n for n in names if n not in ("SeasonalNaive", "Naive")) or ("SeasonalNaive",)
    return ModelSet(names, members)


def class_candidates(model_set: ModelSet, n_seasonal: int) -> dict[str, ModelSet]:
    """Candidates and combination of each backtested class."""
    seasonal = model_set.seasonal
    if "LightGBM" in seasonal and n_seasonal < GLOBAL_MIN_SERIES:
        seasonal = tuple(n for n in seasonal if n != "LightGBM")
    local_seasonal = tuple(n for n in seasonal if n != "LightGBM")
    short = tuple(dict.fromkeys((*local_seasonal, *SHORT_EXTRA)))
    intermittent = tuple(dict.fromkeys((*local_seasonal, *INTERMITTENT_EXTRA)))
    return {
        "seasonal": ModelSet(seasonal, model_set.combination),
        "short": ModelSet(short, model_set.combination),
        "intermittent": ModelSet(intermittent, model_set.combination),
        # A discontinued model: its 0 (the backtest calibrates its interval).
        "stopped": ModelSet(("Naive",), ("Naive",)),
    }
