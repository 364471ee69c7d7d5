"""Which hyperparameters matter: a random forest's impurity-based importances (scikit-learn).

How: over the finished trials, a random forest regressor (scikit-learn, 64 trees) is fitted to the
*rank* of the loss (so a few huge losses do not dominate) from the hyperparameters (log-scaled ones
as log10 of the value, categories as their index, an inactive conditional parameter as a value below
its range); each hyperparameter's importance is its mean decrease in impurity, normalised to sum to
1. It says what explains the loss among the trials *seen*: a search that has converged samples one
region densely, which lowers the importance of what it has already settled.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .axes import Axis

MIN_TRIALS = 8
"""Fewer finished trials than this give no estimate (a forest would only describe noise)."""

MAX_TRIALS = 3000
"""The most recent finished trials used; fitting on more costs time and changes little."""

METHOD = ("random-forest impurity importance (scikit-learn, 64 trees) of the loss rank on the "
          "parameters; log-scaled parameters as log10, categories as codes, inactive as out-of-range")


def _column(axis: Axis, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    raw = [row["params"].get(axis.label) for row in rows]
    if axis.kind == "categorical":
        codes = {c: i for i, c in enumerate(axis.categories)}
        for v in raw:  # a value the space does not list (a guessed axis) gets the next code
            if v is not None:
                codes.setdefault(str(v), len(codes))
        values = [codes[str(v)] if v is not None else math.nan for v in raw]
    else:
        values = []
        for v in raw:
            if v is None or isinstance(v, str):
                values.append(math.nan)
            elif axis.log:
                values.append(math.log10(v) if v > 0 else math.nan)
            else:
                values.append(float(v))
    column = np.asarray(values, dtype=float)
    finite = column[np.isfinite(column)]
    low = finite.min() - 1.0 - (finite.max() - finite.min()) if finite.size else -1.0
    column[~np.isfinite(column)] = low  # inactive: a value no active trial has, so a split can isolate it
    return column


def importances(rows: Sequence[Mapping[str, Any]], axes: Sequence[Axis], seed: int = 0) -> dict[str, float] | None:
    """{label: importance} summing to 1, or None with too few finished trials or nothing varying."""
    from sklearn.ensemble import RandomForestRegressor
    from scipy.stats import rankdata

    done = [row for row in rows if row.get("loss") is not None][-MAX_TRIALS:]
    if len(done) < MIN_TRIALS or not axes:
        return None
    features = np.column_stack([_column(axis, done) for axis in axes])
    target = rankdata([row["loss"] for row in done]) / len(done)
    if np.ptp(target) == 0:
        return None
    forest = RandomForestRegressor(n_estimators=64, min_samples_leaf=2, random_state=seed, n_jobs=1)
    forest.fit(features, target)
    scores = forest.feature_importances_
    total = float(scores.sum())
    if total <= 0:
        return None
    return {axis.label: round(float(score) / total, 4) for axis, score in zip(axes, scores)}
