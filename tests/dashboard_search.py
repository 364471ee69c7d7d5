"""The search the dashboard tests watch: a log-scaled, a conditional and a categorical parameter.

Worker processes import the objective from here by name, as they import any objective.
"""

from __future__ import annotations

import math
import time

import numpy as np
from hyperopt import hp

SPACE = {
    "lr": hp.loguniform("lr", np.log(1e-4), np.log(1.0)),
    "layers": hp.choice("layers", [{"n": 1}, {"n": 2, "width": hp.quniform("width", 16, 256, 16)}]),
    "activation": hp.choice("activation", ["relu", "tanh", "gelu"]),
}


def loss(params: dict) -> float:
    width = params["layers"].get("width", 64)
    penalty = {"relu": 0.0, "tanh": 0.3, "gelu": 0.1}[params["activation"]]
    return (math.log10(params["lr"]) + 2.0) ** 2 + abs(width - 128) / 256 + penalty


def slow_loss(params: dict) -> float:
    """Slow enough that a page sees trials run and finish one after another."""
    time.sleep(2.5)
    return loss(params)
