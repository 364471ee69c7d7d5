"""A first search a newcomer can watch: tune a scikit-learn classifier with SigOpt's optimizer.

The space is a conditional one (three model families, each with its own hyperparameters), scored by
5-fold cross-validated ROC AUC on the breast-cancer data set that scikit-learn ships, so it needs no
download, no account and no configuration.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, space_eval

from .algo import sigopt_suggest

logger = logging.getLogger(__name__)

SPACE = {
    "model": hp.choice(
        "model",
        [
            {
                "kind": "svm",
                "C": hp.loguniform("svm_C", np.log(1e-2), np.log(1e3)),
                "gamma": hp.loguniform("svm_gamma", np.log(1e-5), np.log(1e-1)),
            },
            {
                "kind": "random_forest",
                "n_estimators": hp.quniform("rf_n_estimators", 10, 150, 10),
                "max_depth": hp.uniformint("rf_max_depth", 2, 12),
                "max_features": hp.choice("rf_max_features", ["sqrt", "log2"]),
            },
            {
                "kind": "logistic_regression",
                "C": hp.loguniform("lr_C", np.log(1e-3), np.log(1e2)),
            },
        ],
    ),
}


@dataclass(frozen=True)
class QuickstartResult:
    best_params: dict[str, Any]
    best_auc: float
    evaluations: int
    seconds: float


def _build_model(params: dict[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = params["model"]
    if model["kind"] == "svm":
        return make_pipeline(StandardScaler(), SVC(C=model["C"], gamma=model["gamma"]))
    if model["kind"] == "random_forest":
        return RandomForestClassifier(
            n_estimators=int(model["n_estimators"]),
            max_depth=int(model["max_depth"]),
            max_features=model["max_features"],
            random_state=0,
            n_jobs=1,
        )
    return make_pipeline(StandardScaler(), LogisticRegression(C=model["C"], max_iter=2000))


def run_quickstart(max_evals: int = 30, seed: int = 0, show_progressbar: bool = True) -> QuickstartResult:
    """Run the search and return the best configuration found."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    features, labels = load_breast_cancer(return_X_y=True)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cross_val_score(_build_model(params), features, labels, cv=folds, scoring="roc_auc")
        return {"loss": -float(scores.mean()), "loss_variance": float(scores.var()), "status": STATUS_OK}

    trials = Trials()
    started = time.perf_counter()
    best = fmin(
        objective,
        SPACE,
        algo=sigopt_suggest,
        max_evals=max_evals,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=show_progressbar,
    )
    return QuickstartResult(
        best_params=space_eval(SPACE, best),
        best_auc=-float(trials.best_trial["result"]["loss"]),
        evaluations=len(trials.trials),
        seconds=time.perf_counter() - started,
    )
