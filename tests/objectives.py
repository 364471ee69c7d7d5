"""Objectives that worker processes import by name (cloudpickle sends module functions by reference)."""

from __future__ import annotations

import time


def quadratic(params: dict) -> float:
    return (params["x"] - 0.25) ** 2 + params.get("offset", 0.0)


def slow_quadratic(params: dict) -> float:
    time.sleep(0.2)
    return quadratic(params)


def one_second_quadratic(params: dict) -> float:
    time.sleep(1.0)
    return quadratic(params)


def three_second_quadratic(params: dict) -> float:
    time.sleep(3.0)
    return quadratic(params)


def kills_its_worker(params: dict) -> float:
    """A poison job: whatever evaluates it dies at once, as a segfaulting extension would."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return 0.0


def always_fails(params: dict) -> float:
    raise ValueError("this objective always fails")


def runs_until_released(params: dict) -> float:
    """Runs until the file ``params["release"]`` exists (at most two minutes): the test decides how long."""
    import os

    deadline = time.monotonic() + 120
    while not os.path.exists(params["release"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return quadratic(params)


def nan_loss(params: dict) -> float:
    return float("nan")


def inf_loss(params: dict) -> float:
    return float("inf")


def minus_inf_loss(params: dict) -> float:
    return float("-inf")


def nan_inside_the_result(params: dict) -> dict:
    """A non-finite loss in a result dict, with non-finite values nested deeper (a user's metrics)."""
    return {"status": "ok", "loss": float("nan"),
            "metrics": {"auc": [float("nan"), 0.5], "gap": float("-inf"), "note": "nan"}}


def two_metrics(params: dict) -> dict:
    """Two conflicting metrics (a Pareto front from (0, 0) to (1, 1)), no loss: the package fills it."""
    x, y = params["x"], params["y"]
    return {"status": "ok", "metrics": {"near_origin": x ** 2 + y ** 2, "score": 2.0 - (x - 1) ** 2 - (y - 1) ** 2}}


def constrained_quadratic(params: dict) -> dict:
    """Best at x = 0.8, but ``width`` (= x) must stay at or below 0.5: the feasible best is x = 0.5."""
    x = params["x"]
    return {"status": "ok", "metrics": {"error": (x - 0.8) ** 2 + 0.1 * params.get("y", 0.0) ** 2, "width": x}}


def two_metrics_nan_far_out(params: dict) -> dict:
    """:func:`two_metrics`, with a NaN score beyond x = 0.5 (stored through the non-finite encoding)."""
    result = two_metrics(params)
    if params["x"] > 0.5:
        result["metrics"]["score"] = float("nan")
    return result
