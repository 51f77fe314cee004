"""Market area.

Sales and export analytics over ``sales_monthly``, and backtested, coherent forecasts of monthly
series (see docs/market.md).
"""

from carsight.market.analytics import matrix, monthly, top_models, trend, unusual
from carsight.market.forecast import Forecaster
from carsight.market.hierarchy import aggregate, coherence_gap, reconcile
from carsight.market.model_sets import MODEL_SETS
from carsight.market.series import check_long, read_long_file, regularise

__all__ = [
    "MODEL_SETS",
    "Forecaster",
    "aggregate",
    "check_long",
    "coherence_gap",
    "matrix",
    "monthly",
    "read_long_file",
    "reconcile",
    "regularise",
    "top_models",
    "trend",
    "unusual",
]
