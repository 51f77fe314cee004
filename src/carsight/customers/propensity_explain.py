"""Explaining a propensity model: reasons, global importance and partial dependence.

Per-customer reasons in Korean and English (the three largest SHAP contributions in words, from the
catalogue in ``i18n/value.toml``), global importance (mean |SHAP|) and partial dependence. A mixin of
:class:`carsight.customers.propensity.PropensityModel`; it only reads the fitted model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class ExplainMixin:
    """Reasons, importance and partial dependence for a fitted model.

    The model provides ``contributions(X, model=…)``, ``encoder_``, ``features_``, ``descriptions``,
    ``random_state`` and ``_probability``.
    """

    def describe(self, feature: str, value, contribution: float, lang: str = "ko") -> str:
        """One reason in words: the feature's catalogue text with its value, and the contribution."""
        return f"{self._wording(feature, lang)(value)} ({contribution:+.2f})"

    def _wording(self, feature: str, lang: str):
        """A function value → text for one feature and language (catalogue looked up once)."""
        from carsight.i18n import t

        key = (self.descriptions or {}).get(feature)
        if key is None:
            label = feature.replace("__", " · ")
            return lambda value: t("value.reason.generic", lang, feature=label, value=_format_value(value))
        never = t(f"{key}_none", lang)
        if never == f"{key}_none":  # no wording for "never": show the plain dash
            never = t(key, lang, value="–")

        def text(value) -> str:
            missing = value is None or (not isinstance(value, str) and pd.isna(value))
            return never if missing else t(key, lang, value=_format_value(value))

        return text

    def reasons(
        self,
        X: pd.DataFrame,
        top: int = 3,
        lang: str = "ko",
        *,
        langs: tuple[str, ...] | None = None,
        model: str | None = None,
    ) -> pd.DataFrame:
        """The ``top`` largest contributions per row (by size, sign shown) as text, plus the feature names.

        Columns ``reason1..top`` in ``lang``, or ``reason1_ko``, ``reason1_en``… for ``langs``; and
        ``reason1_feature..`` with the feature behind each reason.
        """
        contrib = self.contributions(X, model=model)
        cells = self.encoder_.transform(X).to_numpy(dtype=object)
        values = contrib.to_numpy()
        n, k_top = len(X), min(top, values.shape[1])
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k_top]
        chosen = np.take_along_axis(values, order, axis=1)
        names = np.asarray(self.features_, dtype=object)
        columns: dict[str, object] = {}
        for k in range(top):
            columns[f"reason{k + 1}_feature"] = names[order[:, k]] if k < k_top else [None] * n
            for code in langs or (lang,):
                name = f"reason{k + 1}_{code}" if langs else f"reason{k + 1}"
                texts = np.full(n, None, dtype=object)
                if k < k_top:
                    # Rows grouped by feature, so each wording is looked up once.
                    for j in np.unique(order[:, k]):
                        rows = np.flatnonzero(order[:, k] == j)
                        wording = self._wording(self.features_[j], code)
                        texts[rows] = [f"{wording(cells[i, j])} ({chosen[i, k]:+.2f})" for i in rows]
                columns[name] = texts
        return pd.DataFrame(columns, index=X.index)

    def importance(self, X: pd.DataFrame, *, model: str | None = None) -> pd.DataFrame:
        """Global importance: mean |contribution| per feature on ``X``, largest first."""
        contrib = self.contributions(X, model=model)
        imp = contrib.abs().mean().sort_values(ascending=False)
        out = imp.rename("mean_abs_shap").rename_axis("feature").reset_index()
        out["rank"] = np.arange(1, len(out) + 1)
        return out

    def partial_dependence(
        self,
        X: pd.DataFrame,
        features: list[str],
        grid_points: int = 10,
        sample: int = 500,
        *,
        model: str | None = None,
    ) -> pd.DataFrame:
        """Average calibrated probability when one feature is set to each grid value.

        The grid is quantiles for numbers, categories for categoricals; the rows are a sample of ``X``
        (at most ``sample``): one prediction per feature.
        """
        Xt = self.encoder_.transform(X)
        if len(Xt) > sample:
            Xt = Xt.sample(sample, random_state=self.random_state)
        rows = []
        for name in features:
            col = Xt[name]
            categorical = isinstance(col.dtype, pd.CategoricalDtype)
            if categorical:
                grid = [c for c in col.cat.categories if (col == c).any()]
            else:
                values = col.dropna().to_numpy()
                grid = np.unique(np.quantile(values, np.linspace(0.05, 0.95, grid_points))) if values.size else []
            if len(grid) == 0:
                continue
            stacked = pd.concat([Xt] * len(grid), ignore_index=True)
            repeated = np.repeat(np.asarray(grid, dtype=object), len(Xt))
            if categorical:
                stacked[name] = pd.Categorical(repeated, categories=col.cat.categories)
            else:
                stacked[name] = repeated.astype("float64")
            prob = self._probability(stacked, model).reshape(len(grid), len(Xt)).mean(axis=1)
            for value, average in zip(grid, prob, strict=True):
                rows.append(
                    {"feature": name, "value": value if categorical else float(value), "average": float(average)}
                )
        return pd.DataFrame(rows, columns=["feature", "value", "average"])


def _format_value(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.2f}"
    return str(value)
