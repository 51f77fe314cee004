"""The pipeline: every analytic step that turns warehouse source tables into result tables, in
dependency order. Each step is ``run(wh, settings) -> dict`` in its domain package; the CLI, the
scheduler and ``make demo`` call :func:`run_pipeline`."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from carsight.config import Settings
from carsight.warehouse import Warehouse


@dataclass(frozen=True)
class Step:
    name: str
    target: str  # "module:function"
    description: str

    def load(self) -> Callable | None:
        module_name, func = self.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # this step's package is not part of this build
            raise
        return getattr(module, func, None)


STEPS: tuple[Step, ...] = (
    Step("customers", "carsight.customers.pipeline:run", "RFM grades, segments, recommendations"),
    Step("propensity", "carsight.customers.value_pipeline:run", "Repurchase/response propensity, reasons, CLV"),
    Step("market", "carsight.market.pipeline:run", "Market analytics, backtested forecasts"),
    Step("voc", "carsight.voc.pipeline:run", "Mask, classify and aggregate consultations"),
    Step("triggers", "carsight.customers.trigger_pipeline:run", "Repurchase trigger conditions (association rules)"),
    Step("drivers", "carsight.market.driver_pipeline:run", "What drove the change in sales and purchases"),
)


@dataclass
class StepResult:
    name: str
    status: str  # done | skipped | failed
    seconds: float
    summary: dict


def run_pipeline(
    wh: Warehouse,
    settings: Settings,
    steps: list[str] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> list[StepResult]:
    """Run the selected steps (all by default) in order; a failing step stops the run."""
    selected = [s for s in STEPS if steps is None or s.name in steps]
    results = []
    for step in selected:
        if on_step:
            on_step(step)
        func = step.load()
        if func is None:
            results.append(StepResult(step.name, "skipped", 0.0, {}))
            continue
        start = time.perf_counter()
        summary = func(wh, settings) or {}
        results.append(StepResult(step.name, "done", time.perf_counter() - start, summary))
    return results
