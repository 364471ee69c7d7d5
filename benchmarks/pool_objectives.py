"""Objectives that benchmark workers import by name; standard library only, so the stock-hyperopt
peer (another virtual environment, without this package) can import them too."""

from __future__ import annotations

import time


def sleep_then_quadratic(params: dict) -> float:
    """Sleep ``params["duration"]`` seconds (a stand-in for training), then return a smooth loss."""
    time.sleep(float(params["duration"]))
    return (float(params["x"]) - 0.25) ** 2
