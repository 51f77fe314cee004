"""Customer lifetime value from a transaction log, part 3: choose the model by backtest, per data set.

Inside the calibration period the last stretch is held out: every candidate (BG/NBD + Gamma-Gamma,
the LightGBM hurdle model, the customer's own past rate) is fitted on the history before it and
scored on what customers did in it: AUROC of "buys again", MAE of purchase occasions, MAE of value.
The stretch is the horizon itself when the calibration period is long enough; otherwise it is shorter
(a third of the history, so that the hurdle model still has windows to learn from) and said so.

Besides the three models, the **ensemble** (the mean of their predictions) is scored in the same
backtest. Each default output column comes from the model that backtested best on its metric:
``p_any_purchase`` from the ranking (AUROC), ``expected_purchases`` from the lowest MAE of purchases,
``expected_value`` from the lowest MAE of value. For the ranking a difference the backtest cannot
resolve does not decide: the richest model (ensemble, hurdle, BG/NBD, past rate, in that order) is kept
unless the best one beats it by more than one standard error of the AUROC difference (DeLong's paired
variance over customers). A model that had to learn from windows shorter than
the horizon (the hurdle model on a short calibration period) scales its counts up, which a backtest at
its own shorter stretch cannot check, so it competes for ``p_any_purchase`` only (a ranking survives
the scaling). Every customer with a purchase on or before the
calibration end (inclusive) gets a row; value columns may be empty, with the reason in ``value_note``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from carsight.customers.clv import BGNBDCLV, DAYS_PER_WEEK, holdout_outcomes, summarise_transactions
from carsight.customers.clv_hurdle import MIN_HISTORY_DAYS, HurdleCLV, PastRateCLV
from carsight.customers.deciles import auroc_difference_se
from carsight.errors import DataTooThinError, InputError

CANDIDATES = ("bgnbd", "hurdle", "past_rate")
# The mean of the fitted candidates' predictions, scored like a model of its own.
ENSEMBLE = "ensemble"
# Without a backtest to go by: the textbook model, then the plain rate (the hurdle model cannot have
# trained either when there is no room for a backtest).
FALLBACK_ORDER = ("bgnbd", "hurdle", "past_rate")
# For the ranking, kept unless a simpler model wins the backtest by more than its standard error.
RICHEST_FIRST = (ENSEMBLE, "hurdle", "bgnbd", "past_rate")
# Output column → (backtest metric, larger is better).
CHOICE = {
    "p_any_purchase": ("auroc", True),
    "expected_purchases": ("mae_purchases", False),
    "expected_value": ("mae_value", False),
}
OUTPUT_COLUMNS = [
    "customer_id",
    "p_any_purchase",
    "expected_purchases",
    "expected_value",
    "clv_model",
    "value_note",
    "p_alive",
    "frequency",
    "recency_days",
    "tenure_days",
]
PER_MODEL = ("p_any_purchase", "expected_purchases", "expected_value")
MIN_BACKTEST_DAYS = 7


def make_candidate(name: str, horizon_days: int, random_state: int = 0):
    """A fresh, unfitted candidate by name (one of :data:`CANDIDATES`)."""
    if name == "bgnbd":
        return BGNBDCLV(horizon_days=horizon_days)
    if name == "hurdle":
        return HurdleCLV(horizon_days=horizon_days, random_state=random_state)
    if name == "past_rate":
        return PastRateCLV(horizon_days=horizon_days)
    raise InputError(f"unknown CLV model '{name}'", expected="one of " + ", ".join(CANDIDATES))


def model_column(model: str, column: str) -> str:
    """The per-model output column: ``bgnbd_p_any``, ``hurdle_expected_value`` and so on."""
    short = "p_any" if column == "p_any_purchase" else column
    return f"{model}_{short}"


def backtest_window_days(first_date, calibration_end, horizon_days: int) -> int | None:
    """The held-out stretch at the end of the calibration period, in days.

    The horizon, or a third of the usable history when that is shorter, so that the models keep two
    thirds of it to learn from (the hurdle model learns from windows inside it). None when the period
    is too short for any backtest.
    """
    span = (pd.Timestamp(calibration_end).normalize() - pd.Timestamp(first_date).normalize()).days
    window = min(int(horizon_days), (span - MIN_HISTORY_DAYS) // 3)
    return window if window >= MIN_BACKTEST_DAYS else None


@dataclass
class CLVResult:
    """The per-customer table, every model's backtest, and which model fills each default column."""

    table: pd.DataFrame
    backtest: pd.DataFrame
    chosen: dict[str, str]
    backtest_description: str
    calibration_end: pd.Timestamp
    horizon_days: int
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ensemble_prediction(predictions: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The mean of the models' predictions per customer.

    ``p_any_purchase``, ``expected_purchases`` and ``expected_value``, each averaged over the models
    with a number (value stays empty where every model's is).
    """
    frames = [p.set_index("customer_id") for p in predictions.values()]
    index = frames[0].index
    out = pd.DataFrame(index=index)
    for column in PER_MODEL:
        stacked = np.column_stack([f[column].reindex(index).to_numpy(dtype="float64") for f in frames])
        known = (~np.isnan(stacked)).sum(axis=1)
        total = np.nansum(stacked, axis=1)
        out[column] = np.where(known > 0, total / np.maximum(known, 1), np.nan)
    out["value_note"] = frames[0]["value_note"].reindex(index)
    return out.rename_axis("customer_id").reset_index()


def _score(prediction: pd.DataFrame, actual: pd.DataFrame) -> dict:
    frame = prediction.merge(actual, on="customer_id", how="left")
    frame[["actual_purchases", "actual_value"]] = frame[["actual_purchases", "actual_value"]].fillna(0)
    bought = (frame["actual_purchases"] > 0).astype(int)
    valued = frame["expected_value"].notna()
    both = 0 < bought.sum() < len(bought)
    return {
        "customers": int(len(frame)),
        "buyers": int(bought.sum()),
        "auroc": float(roc_auc_score(bought, frame["p_any_purchase"])) if both else np.nan,
        "mae_purchases": float(np.mean(np.abs(frame["expected_purchases"] - frame["actual_purchases"]))),
        "mae_value": float(np.mean(np.abs(frame.loc[valued, "expected_value"] - frame.loc[valued, "actual_value"])))
        if valued.any()
        else np.nan,
        "predicted_purchases": float(frame["expected_purchases"].sum()),
        "actual_purchases": float(frame["actual_purchases"].sum()),
    }


def run_backtest(
    transactions: pd.DataFrame,
    calibration_end,
    horizon_days: int,
    *,
    models=CANDIDATES,
    random_state: int = 0,
) -> tuple[pd.DataFrame, str]:
    """Backtest the candidates and their ensemble on the held-out stretch.

    Every candidate is fitted on the history before the stretch and scored on it, and so is the
    ensemble of those fitted. Returns one row per model (``model, auroc, auroc_se, mae_purchases,
    mae_value, customers, buyers, …, status``; ``auroc_se`` is the standard error of the model's AUROC
    gap to the best one) and a sentence saying which stretch was held out.
    """
    end = pd.Timestamp(calibration_end).normalize()
    first = pd.to_datetime(transactions["date"]).min()
    window = backtest_window_days(first, end, horizon_days)
    columns = [
        "model",
        "auroc",
        "auroc_se",
        "mae_purchases",
        "mae_value",
        "customers",
        "buyers",
        "window_days",
        "status",
    ]
    if window is None:
        text = (
            f"no backtest: the calibration period ({(end - first.normalize()).days} days) is too short to hold "
            "out a stretch and still learn from the history before it"
        )
        return pd.DataFrame(columns=columns), text
    cut = end - pd.Timedelta(days=window)
    actual = holdout_outcomes(transactions, cut, window)
    rows, predictions = [], {}
    for name in models:
        row = {"model": name, "window_days": window}
        try:
            model = make_candidate(name, window, random_state).fit(transactions, calibration_end=cut)
            predictions[name] = model.predict(transactions)
            row.update(_score(predictions[name], actual))
            row["status"] = "ok"
        except DataTooThinError as exc:
            row["status"] = f"not fitted: {exc}"
        rows.append(row)
    if len(predictions) > 1:
        predictions[ENSEMBLE] = ensemble_prediction(predictions)
        rows.append({"model": ENSEMBLE, "window_days": window, **_score(predictions[ENSEMBLE], actual), "status": "ok"})
    _add_auroc_se(rows, predictions, actual)
    text = f"backtest: fitted on purchases to {cut.date()}, scored on the {window} days after it (to {end.date()})"
    if window < horizon_days:
        text += f"; the calibration period is too short to hold out {horizon_days} days, so the stretch is shorter"
    return pd.DataFrame(rows).reindex(columns=columns + ["predicted_purchases", "actual_purchases"]), text


def _add_auroc_se(rows: list[dict], predictions: dict[str, pd.DataFrame], actual: pd.DataFrame) -> None:
    """Each scored row's ``auroc_se``: the standard error of its AUROC gap to the best model's."""
    scored = [r for r in rows if r["model"] in predictions and np.isfinite(r.get("auroc", np.nan))]
    if not scored:
        return
    best = max(scored, key=lambda r: r["auroc"])["model"]
    bought = actual.set_index("customer_id")["actual_purchases"]
    ids = predictions[best]["customer_id"]
    y = (bought.reindex(ids).fillna(0).to_numpy() > 0).astype(int)
    reference = predictions[best]["p_any_purchase"].to_numpy()
    for row in scored:
        other = predictions[row["model"]].set_index("customer_id")["p_any_purchase"].reindex(ids).to_numpy()
        row["auroc_se"] = 0.0 if row["model"] == best else auroc_difference_se(y, reference, other)


def choose(backtest: pd.DataFrame, fitted: list[str], scaled: tuple[str, ...] = ()) -> dict[str, str]:
    """For each default column, the fitted model with the best backtest on that column's metric.

    The fallback order decides when no model could be scored. For ``p_any_purchase`` a gap within
    noise does not decide: the first model of :data:`RICHEST_FIRST` whose AUROC is within its
    ``auroc_se`` (standard error of the gap to the best) of the best is kept. Models in ``scaled``
    learned from windows shorter than the horizon and scale their counts up: the backtest (at its own,
    shorter window) cannot check that scaling, so they compete for ``p_any_purchase`` only (a ranking
    survives the scaling).
    """
    chosen = {}
    for column, (metric, larger) in CHOICE.items():
        eligible = [m for m in fitted if column == "p_any_purchase" or m not in scaled]
        scored = backtest[backtest["model"].isin(eligible) & backtest[metric].notna()] if len(backtest) else backtest
        if not len(scored):
            chosen[column] = next(m for m in FALLBACK_ORDER if m in eligible)
            continue
        best = scored.sort_values(metric, ascending=not larger, kind="stable").iloc[0]
        chosen[column] = str(best["model"])
        if column == "p_any_purchase":
            se = scored.set_index("model")["auroc_se"] if "auroc_se" in scored else pd.Series(dtype="float64")
            auroc = scored.set_index("model")["auroc"]
            for name in (m for m in RICHEST_FIRST if m in auroc.index):
                gap_se = float(se.get(name, 0.0)) if np.isfinite(se.get(name, np.nan)) else 0.0
                if auroc[name] >= best["auroc"] - gap_se:
                    chosen[column] = name
                    break
    return chosen


def _prepare(transactions: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("customer_id", "date", "amount") if c not in transactions.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", expected="customer_id, date and amount")
    tx = transactions[["customer_id", "date", "amount"]].dropna(subset=["customer_id", "date"]).copy()
    tx["customer_id"] = tx["customer_id"].astype(str)
    tx["date"] = pd.to_datetime(tx["date"]).dt.normalize()
    tx["amount"] = pd.to_numeric(tx["amount"], errors="coerce")
    return tx


def customer_value(
    transactions: pd.DataFrame,
    calibration_end,
    horizon_days: int,
    *,
    models=CANDIDATES,
    random_state: int = 0,
) -> CLVResult:
    """Lifetime value over the next ``horizon_days``, by the models that backtested best on this data.

    Every customer with a purchase on or before ``calibration_end`` (inclusive) gets a row.

    Parameters
    ----------
    transactions : DataFrame
        ``customer_id``, ``date``, ``amount``: one row per purchase (several on one day are one occasion).
    calibration_end : date-like
        The last day of history used (inclusive).
    horizon_days : int
        Days ahead to predict, counted from the day after the calibration end.
    models : sequence of str
        Candidates to compare (default all of :data:`CANDIDATES`).
    random_state : int
        Seed for the hurdle model.

    Returns
    -------
    CLVResult
        ``table`` with :data:`OUTPUT_COLUMNS` then each model's own columns (``bgnbd_p_any``…), the
        ``backtest`` table, and ``chosen``: the model behind each default column.
    """
    fitted = fit_customer_value(transactions, calibration_end, horizon_days, models=models, random_state=random_state)
    return fitted.result(fitted.predict(transactions))


@dataclass
class CustomerValueModels:
    """The CLV models fitted on one transaction log (:func:`fit_customer_value`), their backtest and the choice it made.

    :meth:`predict` gives each customer's row from that customer's own purchases only, so the
    customers may be predicted in batches (on Spark's executors) by models fitted on a sample of them.
    """

    models: dict
    backtest: pd.DataFrame
    backtest_description: str
    chosen: dict[str, str]
    calibration_end: pd.Timestamp
    horizon_days: int
    params: dict
    notes: list[str]

    def predict(self, transactions: pd.DataFrame) -> pd.DataFrame:
        """One row per customer of ``transactions`` with a purchase on or before the calibration end.

        Columns :data:`OUTPUT_COLUMNS`, then each model's own columns.
        """
        tx = _prepare(transactions)
        summary = summarise_transactions(tx, self.calibration_end)
        table = summary[["customer_id", "value_note"]].copy()
        table["frequency"] = summary["frequency"].astype("int64")
        table["recency_days"] = summary["recency"] * DAYS_PER_WEEK
        table["tenure_days"] = summary["T"] * DAYS_PER_WEEK
        predictions = {}
        for name, model in self.models.items():
            predictions[name] = model.predict(tx)
            prediction = predictions[name].set_index("customer_id").reindex(table["customer_id"])
            if prediction["p_any_purchase"].isna().any():
                raise AssertionError(f"{name} left customers without a prediction")  # a bug, not bad input
            for column in PER_MODEL:
                table[model_column(name, column)] = prediction[column].to_numpy()
            if name == "bgnbd":
                table["p_alive"] = prediction["p_alive"].to_numpy()
                table["expected_avg_value"] = prediction["expected_avg_value"].to_numpy()
        if len(predictions) > 1:
            prediction = ensemble_prediction(predictions).set_index("customer_id").reindex(table["customer_id"])
            for column in PER_MODEL:
                table[model_column(ENSEMBLE, column)] = prediction[column].to_numpy()
        for column, name in self.chosen.items():
            table[column] = table[model_column(name, column)]
        models_used = dict.fromkeys(self.chosen.values())
        table["clv_model"] = (
            next(iter(models_used))
            if len(models_used) == 1
            else "; ".join(f"{c.replace('expected_', '')}: {m}" for c, m in self.chosen.items())
        )
        if "p_alive" not in table:
            table["p_alive"] = np.nan
        extra = [c for c in table.columns if c not in OUTPUT_COLUMNS]
        return table[OUTPUT_COLUMNS + extra].reset_index(drop=True)

    def result(self, table: pd.DataFrame) -> CLVResult:
        """The :class:`CLVResult` of these models with ``table`` (from :meth:`predict`)."""
        return CLVResult(
            table,
            self.backtest,
            self.chosen,
            self.backtest_description,
            self.calibration_end,
            self.horizon_days,
            self.params,
            self.notes,
        )


def fit_customer_value(
    transactions: pd.DataFrame, calibration_end, horizon_days: int, *, models=CANDIDATES, random_state: int = 0
) -> CustomerValueModels:
    """Backtest ``models`` on ``transactions``, then fit each on the whole calibration period.

    Raises
    ------
    InputError
        For a horizon that is not positive or a log without its columns.
    DataTooThinError
        When no purchase is on or before the calibration end, or no model can be fitted.
    """
    if int(horizon_days) <= 0:
        raise InputError("must be positive", column="horizon_days", expected="a number of days > 0")
    end = pd.Timestamp(calibration_end).normalize()
    tx = _prepare(transactions)
    summary = summarise_transactions(tx, end)
    if summary.empty:
        raise DataTooThinError(f"no transactions on or before {end.date()}")
    notes = []
    later = tx.loc[tx["date"] > end, "customer_id"].unique()
    unseen = int(len(set(later) - set(summary["customer_id"])))
    if unseen:
        notes.append(f"{unseen} customers first buy after {end.date()}: they have no history at that date and no row")
    backtest, description = run_backtest(tx, end, int(horizon_days), models=models, random_state=random_state)
    fitted, scaled, params = {}, [], {}
    for name in models:
        try:
            model = make_candidate(name, int(horizon_days), random_state).fit(tx, calibration_end=end)
        except DataTooThinError as exc:
            notes.append(f"{name} not fitted: {exc}")
            continue
        notes.extend(getattr(model, "notes_", []))
        params[name] = model.describe()
        fitted[name] = model
        if getattr(model, "window_days_", horizon_days) < int(horizon_days):
            scaled.append(name)
    if not fitted:
        raise DataTooThinError("no CLV model could be fitted: " + "; ".join(notes))
    names = list(fitted)
    if len(fitted) > 1:
        params[ENSEMBLE] = {"members": list(fitted)}
        if scaled:
            scaled.append(ENSEMBLE)
        names.append(ENSEMBLE)
    chosen = choose(backtest, names, tuple(scaled))
    backtest = backtest.assign(
        chosen_for=[", ".join(c for c, m in chosen.items() if m == name) or None for name in backtest["model"]]
    )
    return CustomerValueModels(fitted, backtest, description, chosen, end, int(horizon_days), params, notes)
