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


def six_second_quadratic(params: dict) -> float:
    time.sleep(6.0)
    return quadratic(params)
