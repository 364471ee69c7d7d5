"""Exact hypervolume of a set of points in two objectives (both minimized), and its Pareto filter.

The hypervolume of a set is the area that it dominates inside the box bounded by a reference point:
the larger, the closer and the more spread the set's front.  In two objectives it is exact and cheap:
sort the non-dominated points by the first objective and add up the rectangles between each point and
the next one's first coordinate, up to the reference point.  Points that do not dominate the
reference point (worse than it in either objective) add nothing.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def _as_array(points: Iterable[Sequence[float]]) -> np.ndarray:
    array = np.asarray(list(points), dtype=float)
    if array.size == 0:
        return np.empty((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must be pairs (n x 2), not shape {array.shape}")
    return array


def non_dominated(points: Iterable[Sequence[float]]) -> np.ndarray:
    """The points no other point dominates (both minimized), sorted by the first objective; duplicates once.

    A point dominates another when it is no worse in both objectives and better in one.
    """
    array = _as_array(points)
    array = array[np.all(np.isfinite(array), axis=1)]
    if len(array) == 0:
        return array
    order = np.lexsort((array[:, 1], array[:, 0]))  # by f1, then f2
    front = []
    best_second = np.inf
    for point in array[order]:
        if point[1] < best_second:  # strictly better second objective than every point with smaller f1
            front.append(point)
            best_second = point[1]
    return np.array(front)


def hypervolume(points: Iterable[Sequence[float]], reference: Sequence[float]) -> float:
    """The area dominated by ``points`` and bounded by ``reference`` (both objectives minimized)."""
    ref = np.asarray(reference, dtype=float)
    front = non_dominated(points)
    if len(front) == 0:
        return 0.0
    front = front[(front[:, 0] < ref[0]) & (front[:, 1] < ref[1])]
    if len(front) == 0:
        return 0.0
    # front is sorted by f1 ascending, so f2 descends: each point owns the strip up to the next point's f1.
    right = np.append(front[1:, 0], ref[0])
    return float(np.sum((right - front[:, 0]) * (ref[1] - front[:, 1])))
