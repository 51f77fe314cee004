"""Propensity on any table, file in and file out: what ``carsight propensity train|score`` run.

Training splits the rows three ways. When their order is known (``time_col``, or ``ordered=True`` for
rows exported in time order without a date) the oldest 60% train, the next 20% are the late slice
(early stopping, calibration, choice of champion and drift model) and the latest 20% the holdout.
With neither, the last 20% of the rows are still the late slice (a late slice when the file is in time
order, a random one when it is not) and the rest is split 3:1 at random, stratified, into training
rows and holdout. After the holdout is scored, the model is fitted again on training + holdout rows;
the late slice stops, calibrates, grades and chooses, and then the candidates learn from it too
(``refit_on_late``), so the saved model learned from all rows.

Scoring checks the file for drift against the training data and scores with the champion, or with the
drift model when the drift is material; the output says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from carsight.customers.encoding import parse_target, to_date
from carsight.customers.propensity import LATE_SHARE, Evaluation, ModelChoice, PropensityModel
from carsight.errors import InputError


@dataclass
class Split:
    """Row positions of the three parts of a split, from :func:`split_rows`.

    ``train``, ``valid`` (the late slice) and ``test`` (the holdout) are positions into the table;
    ``kind`` says how the rows were ordered and ``description`` says the same in words, for reports.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    kind: str  # "time", "ordered" or "late-rows"
    description: str


def split_rows(
    y: np.ndarray,
    time: pd.Series | None = None,
    *,
    ordered: bool = False,
    late_share: float = LATE_SHARE,
    test_share: float = 0.2,
    random_state: int = 0,
) -> Split:
    """Train / late slice (``valid``) / holdout (``test``) positions, as the module docstring says."""
    n = len(y)
    n_late = int(round(n * late_share))
    if time is not None or ordered:
        order = np.argsort(time.to_numpy(dtype="datetime64[ns]"), kind="stable") if time is not None else np.arange(n)
        n_test = int(round(n * test_share))
        train = order[: n - n_test - n_late]
        valid = order[n - n_test - n_late : n - n_test]
        test = order[n - n_test :]
        if time is not None:
            t = time.to_numpy(dtype="datetime64[ns]")

            def span(ix):
                return f"{pd.Timestamp(t[ix].min()).date()}–{pd.Timestamp(t[ix].max()).date()}" if len(ix) else "none"

            desc = (
                f"time-ordered split by {time.name}: train {span(train)}, late slice (validation) {span(valid)}, "
                f"holdout (latest rows) {span(test)}"
            )
            return Split(train, valid, test, "time", desc)
        desc = (
            f"ordered split by row position (--ordered): train rows 1–{len(train)}, late slice (validation) "
            f"rows {len(train) + 1}–{len(train) + len(valid)}, holdout (latest rows) {len(train) + len(valid) + 1}–{n}"
        )
        return Split(np.sort(train), np.sort(valid), np.sort(test), "ordered", desc)
    from sklearn.model_selection import train_test_split

    valid = np.arange(n - n_late, n)
    rest = np.arange(n - n_late)
    share = test_share / (1 - late_share)
    stratify = y[rest] if min(np.bincount(y[rest].astype(int), minlength=2)) >= 2 else None
    train, test = train_test_split(rest, test_size=share, stratify=stratify, random_state=random_state)
    desc = (
        f"no time order given: the last {n_late} rows are the late slice (validation; harmless if the rows are "
        "not in time order), the other rows are split at random 3:1, stratified, into training rows and holdout "
        "(so the holdout is not later in time: use --time-col or --ordered when the rows have an order)"
    )
    return Split(np.sort(train), valid, np.sort(test), "late-rows", desc)


@dataclass
class TrainReport:
    """What :func:`train_on_table` returns: the saved model and how it was evaluated.

    ``model`` is refitted on training + holdout rows; ``evaluation`` is the holdout evaluation of the
    same procedure fitted on the training rows only; ``validation`` compares every candidate on the
    late slice. ``dropped_columns`` are the columns the encoder left out (with why), ``dropped_rows``
    the rows without a target value (or time), and ``notes`` what a reader of the metrics should know.
    """

    model: PropensityModel  # refitted on training + holdout rows
    split: Split
    evaluation: Evaluation  # of the same procedure fitted on the training rows only
    validation: pd.DataFrame  # every candidate on the late slice
    importance: pd.DataFrame
    dropped_columns: dict[str, str]
    dropped_rows: int
    notes: list[str]

    def summary(self) -> dict:
        """A JSON-ready summary for the model's metadata."""
        best = self.evaluation.metrics.iloc[0]
        return {
            "split": self.split.description,
            "rows": {"train": len(self.split.train), "valid": len(self.split.valid), "test": len(self.split.test)},
            "metrics": self.evaluation.metrics.to_dict(orient="records"),
            "late_slice": self.validation.to_dict(orient="records"),
            "champion": self.model.champion_,
            "drift_model": self.model.drift_model_,
            "auroc": float(best.auroc),
            "best_grade": self.evaluation.best_grade,
            "dropped_columns": self.dropped_columns,
            "notes": self.notes,
        }


def train_on_table(
    frame: pd.DataFrame,
    target: str,
    *,
    positive: str | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    time_col: str | None = None,
    ordered: bool = False,
    margin: float = 1.0,
    contact_cost: float = 0.1,
    file: str | None = None,
    **params,
) -> TrainReport:
    """Train, evaluate and refit a propensity model on any table with a yes/no column ``target``.

    Parameters
    ----------
    frame : DataFrame
        One row per customer or case.
    target : str
        The yes/no column; ``positive`` names the value that counts as yes when it is not obvious.
    exclude : list of str
        Columns to leave out.
    time_col : str, optional
        A date column that orders the split (not used as a feature).
    ordered : bool
        The rows are in time order (used when there is no date column).
    margin, contact_cost : float
        Profit of one positive and cost of one contact, for the best grade.
    file : str, optional
        The file name, for error messages.
    **params
        :class:`PropensityModel` parameters.
    """
    for name in [target, *exclude] + ([time_col] if time_col else []):
        if name not in frame.columns:
            raise InputError(
                "no such column", file=file, column=name, expected="one of: " + ", ".join(map(str, frame.columns))
            )
    y_all = parse_target(frame[target], positive, column=target)
    keep = y_all.notna().to_numpy()
    time = None
    if time_col:
        time = to_date(frame[time_col])
        bad = time.isna() & keep
        if bad.mean() > 0.05:
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError("not a date", file=file, row=row + 1, column=time_col, expected="a date in every row")
        keep &= time.notna().to_numpy()
    dropped_rows = int((~keep).sum())
    data = frame.loc[keep].drop(columns=[target, *exclude]).reset_index(drop=True)
    y = y_all[keep].to_numpy()
    if time is not None:
        time = time[keep].reset_index(drop=True).rename(time_col)
        data = data.drop(columns=[time_col])
    split = split_rows(y, time, ordered=ordered)
    late = (data.iloc[split.valid], y[split.valid])
    # The late slice chooses, calibrates and grades; then the members learn from it too (it holds the rows
    # nearest to the ones to score when the file has an order, and a fifth of the data when it has not).
    params.setdefault("refit_on_late", True)
    trial = PropensityModel(**params).fit(data.iloc[split.train], y[split.train], eval_set=late)
    evaluation = trial.evaluate(data.iloc[split.test], y[split.test], margin=margin, contact_cost=contact_cost)
    refit = np.sort(np.r_[split.train, split.test])
    model = clone(trial).fit(data.iloc[refit], y[refit], eval_set=late)
    importance = model.importance(data.iloc[split.test])
    notes = list(evaluation.notes)
    late_rows = len(split.valid) if model.refitted_on_late_ else 0
    notes.append(
        f"holdout metrics come from the candidates fitted on the {len(split.train) + late_rows} training rows"
        + (" (late slice included after it chose, calibrated and graded)" if late_rows else "")
        + f"; the saved model was then fitted again the same way on training + holdout rows "
        f"({len(refit) + late_rows})"
    )
    if dropped_rows:
        notes.append(f"{dropped_rows} rows without a target value (or time) were left out")
    if time_col:
        notes.append(f"'{time_col}' was used to order the split, not as a feature")
    model.split_description_ = split.description
    model.target_ = target
    model.positive_ = positive
    return TrainReport(
        model, split, evaluation, model.validation_, importance, dict(model.encoder_.dropped_), dropped_rows, notes
    )


def score_table(
    model: PropensityModel,
    frame: pd.DataFrame,
    *,
    lang: str = "ko",
    file: str | None = None,
    id_cols: list[str] | None = None,
) -> tuple[pd.DataFrame, ModelChoice, list[str]]:
    """Score a table with a trained model after a drift check.

    The output holds ``score`` (the calibrated probability of the model used), ``decile`` (within this
    table), ``grade`` (late-slice cut-points), the top three reasons, ``model_used`` and ``drift``
    (stable / shifted / unchecked). Refuses a table that does not fit. Returns the scores, the model
    choice (with the drift check) and the ignored columns.
    """
    extra = model.encoder_.check(frame, file=file)
    choice = model.choose_model(frame)
    out = pd.DataFrame(index=frame.index)
    for name in id_cols or []:
        if name in frame.columns:
            out[name] = frame[name]
    out = out.join(model.score_rows(frame, model=choice.model))
    reasons = model.reasons(frame, lang=lang, model=choice.model)
    for k in (1, 2, 3):
        out[f"reason{k}"] = reasons.get(f"reason{k}")
    out["model_used"] = choice.model
    out["drift"] = choice.status
    return out.reset_index(drop=True), choice, extra
