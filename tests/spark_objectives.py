"""Objectives that Spark's Python workers evaluate in tests/test_spark.py.

Spark's workers do not have this repository's ``tests`` package on their path, so test_spark.py
registers this module with cloudpickle to travel by value.  The workers are processes on this machine:
an evaluation numbers itself by claiming a file in a shared directory, so the numbering, not the clock,
decides which evaluations fail or block.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

RELEASE = "release"
"""The file that lets blocked evaluations return."""


def claim_number(directory: str) -> int:
    """The next evaluation number: creating a file is atomic across processes."""
    number = 0
    while True:
        try:
            os.close(os.open(os.path.join(directory, str(number)), os.O_CREAT | os.O_EXCL))
            return number
        except FileExistsError:
            number += 1


def bowl(params: dict[str, Any]) -> float:
    return (params["x"] - 3.0) ** 2 + (params["y"] - 6.0) ** 2


def slow_bowl(seconds: float) -> Callable[[dict[str, Any]], float]:
    """The bowl after a pause, so that two Spark tasks overlap."""

    def loss(params: dict[str, Any]) -> float:
        time.sleep(seconds)
        return bowl(params)

    return loss


def every_other_raises(directory: str) -> Callable[[dict[str, Any]], float]:
    """Odd-numbered evaluations raise (SparkTrials marks their trials JOB_STATE_ERROR)."""

    def loss(params: dict[str, Any]) -> float:
        number = claim_number(directory)
        if number % 2:
            raise ValueError(f"evaluation {number} fails on purpose")
        return bowl(params)

    return loss


def first_returns_then_block(directory: str) -> Callable[[dict[str, Any]], float]:
    """Evaluation 0 returns; every later one waits for the release file (SparkTrials' timeout cancels it)."""

    def loss(params: dict[str, Any]) -> float:
        if claim_number(directory):
            while not os.path.exists(os.path.join(directory, RELEASE)):
                time.sleep(0.1)
        return bowl(params)

    return loss
