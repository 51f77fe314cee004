"""What every check is given: warehouse, thresholds, the day it looks from, the reference date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from carsight.config import MonitorSettings, Settings
from carsight.warehouse import Warehouse


@dataclass
class Context:
    """One monitoring run's view: ``as_of`` is the day the checks look from (today by default)."""

    wh: Warehouse
    settings: Settings
    as_of: dt.date

    @property
    def cfg(self) -> MonitorSettings:
        """The thresholds (``[monitor]`` in carsight.toml)."""
        return self.settings.monitor

    @cached_property
    def reference_date(self) -> dt.date:
        """The day the customer models were trained on data up to.

        The newest saved propensity model's ``as_of``, else the scores', else a month before ``as_of``.
        """
        from carsight.registry import list_models
        from carsight.warehouse.results_value import PROPENSITY_SCORES

        dates = [
            dt.date.fromisoformat(str(m.extra["as_of"])[:10])
            for m in list_models(self.settings.model_dir)
            if m.kind == "propensity" and m.extra.get("as_of")
        ]
        if dates:
            return max(dates)
        if self.wh.has_table(PROPENSITY_SCORES.name) and self.wh.count(PROPENSITY_SCORES.name):
            value = self.wh.table(PROPENSITY_SCORES.name).as_of.max().to_pyarrow().as_py()
            if value is not None:
                return value
        return self.as_of - dt.timedelta(days=31)
