"""Expected improvement searched over the points a mixed space really has, not over its relaxation.

libsigopt optimizes its acquisition function on a continuous relaxation of the space: a categorical
parameter with k options becomes k coordinates in [0, 1] (one-hot), integers and grid (quantized)
parameters become intervals, and only the end point is rounded (each categorical drawn at random in
proportion to its relaxed coordinates, then the best combination of categories at the rounded
point's other coordinates).  The relaxed optimum is not a point of the space: the continuous
coordinates are tuned for a blend of categories that cannot be evaluated, and the GP is asked about
one-hot vectors like (0.4, 0.6) that no observation resembles.

This module keeps every candidate on the space itself, as Optuna's mixed-space optimizer and
HEBO's do:

- :class:`OneHotLayout` reads libsigopt's one-hot layout and **snaps** a relaxed point to the
  space (the largest one-hot coordinate wins, integers round, grids take the nearest value);
- :func:`maximize_on_space` scores snapped candidates, polishes the best few with L-BFGS-B on the
  **continuous coordinates only** (the discrete ones held fixed by equal bounds), then walks the
  discrete **neighbourhood** of the winner (every other option of one categorical, the next integer
  or grid value up and down), re-polishing after each move, until no neighbour is better.

The search is deterministic given the candidates; all randomness is in the candidates (numpy's
global generator, seeded by the engine per call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from libsigopt.aux.constant import (
    CATEGORICAL_EXPERIMENT_PARAMETER_NAME,
    INT_EXPERIMENT_PARAMETER_NAME,
    QUANTIZED_EXPERIMENT_PARAMETER_NAME,
)
from scipy.optimize import minimize

from .log_ei import LogExpectedImprovement

MAX_NEIGHBOURHOOD_MOVES = 8
"""Discrete moves from the polished winner before the walk stops (each one costs one batch and a polish)."""


@dataclass(frozen=True)
class OneHotLayout:
    """Where each parameter of a libsigopt ``CategoricalDomain`` lives in its one-hot coordinates."""

    dim: int
    categorical_blocks: tuple[tuple[int, ...], ...]
    """The one-hot coordinates of each categorical parameter."""
    integers: tuple[tuple[int, float, float], ...]
    """(coordinate, lower, upper) of each integer parameter."""
    grids: tuple[tuple[int, tuple[float, ...]], ...]
    """(coordinate, sorted values) of each quantized (grid) parameter."""

    @classmethod
    def of(cls, categorical_domain) -> "OneHotLayout":
        blocks, integers, grids = [], [], []
        components = categorical_domain.domain_components
        for mapping in categorical_domain.one_hot_to_categorical_mapping:
            kind = mapping["var_type"]
            if kind == CATEGORICAL_EXPERIMENT_PARAMETER_NAME:
                blocks.append(tuple(mapping["input_ind_value_map"]))
            elif kind == INT_EXPERIMENT_PARAMETER_NAME:
                low, high = components[mapping["output_ind"]]["elements"]
                integers.append((mapping["input_ind"], float(low), float(high)))
            elif kind == QUANTIZED_EXPERIMENT_PARAMETER_NAME:
                values = tuple(sorted(float(v) for v in components[mapping["output_ind"]]["elements"]))
                grids.append((mapping["input_ind"], values))
        return cls(int(categorical_domain.one_hot_dim), tuple(blocks), tuple(integers), tuple(grids))

    @property
    def is_continuous(self) -> bool:
        return not (self.categorical_blocks or self.integers or self.grids)

    @property
    def free(self) -> np.ndarray:
        """A mask of the coordinates a continuous optimizer may move (the double parameters)."""
        mask = np.ones(self.dim, dtype=bool)
        for block in self.categorical_blocks:
            mask[list(block)] = False
        for index, *_ in self.integers:
            mask[index] = False
        for index, _ in self.grids:
            mask[index] = False
        return mask

    def snap(self, points: np.ndarray) -> np.ndarray:
        """The points of the space nearest to relaxed ``points`` (rows)."""
        snapped = np.array(points, dtype=float, copy=True)
        for block in self.categorical_blocks:
            columns = list(block)
            winners = np.argmax(snapped[:, columns], axis=1)
            snapped[:, columns] = 0.0
            snapped[np.arange(len(snapped)), np.asarray(columns)[winners]] = 1.0
        for index, low, high in self.integers:
            snapped[:, index] = np.clip(np.round(snapped[:, index]), low, high)
        for index, values in self.grids:
            grid = np.asarray(values)
            snapped[:, index] = grid[np.argmin(np.abs(snapped[:, index, None] - grid[None, :]), axis=1)]
        return snapped

    def neighbours(self, point: np.ndarray) -> np.ndarray:
        """The points differing from ``point`` (on the space) in one discrete parameter by one step."""
        found = []
        for block in self.categorical_blocks:
            for chosen in block:
                if point[chosen] != 1.0:
                    other = point.copy()
                    other[list(block)] = 0.0
                    other[chosen] = 1.0
                    found.append(other)
        for index, low, high in self.integers:
            for step in (-1.0, 1.0):
                if low <= point[index] + step <= high:
                    other = point.copy()
                    other[index] += step
                    found.append(other)
        for index, values in self.grids:
            position = int(np.argmin(np.abs(np.asarray(values) - point[index])))
            for step in (-1, 1):
                if 0 <= position + step < len(values):
                    other = point.copy()
                    other[index] = values[position + step]
                    found.append(other)
        return np.array(found).reshape(-1, self.dim)


def distinct_top(candidates: np.ndarray, scores: np.ndarray, count: int) -> list[int]:
    """Indexes of the ``count`` best-scoring distinct candidates, best first (the scan's top few are
    often one cloud's neighbours, which would waste the starts)."""
    order = np.argsort(-scores, kind="stable")
    top = [int(order[0])]
    for index in order[1:]:
        if len(top) >= count:
            break
        if all(np.max(np.abs(candidates[index] - candidates[t])) > 1e-9 for t in top):
            top.append(int(index))
    return top


def polish(log_ei: LogExpectedImprovement, starts: np.ndarray, lower: np.ndarray, upper: np.ndarray,
            free: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """One L-BFGS-B run over all starts at once (their logEI summed: the gradient separates by start),
    moving only the ``free`` coordinates; returns the end points and their logEI."""
    count, dim = starts.shape
    if not free.any() or iterations <= 0 or not log_ei.differentiable:
        return starts, log_ei.values(starts)
    low = np.where(free[None, :], lower[None, :], starts)
    high = np.where(free[None, :], upper[None, :], starts)

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        values, gradients = log_ei.values_and_gradients(flat.reshape(count, dim))
        values = np.nan_to_num(values, nan=-1e300, neginf=-1e300)
        gradients = np.nan_to_num(gradients, nan=0.0, posinf=0.0, neginf=0.0) * free[None, :]
        return -float(np.sum(values)), -gradients.ravel()

    result = minimize(objective, starts.ravel(), jac=True, method="L-BFGS-B",
                      bounds=list(zip(low.ravel(), high.ravel())), options={"maxiter": iterations})
    ends = np.clip(result.x.reshape(count, dim), low, high)
    return ends, log_ei.values(ends)


def maximize_on_space(layout: OneHotLayout, lower: np.ndarray, upper: np.ndarray, log_ei: LogExpectedImprovement,
                      candidates: np.ndarray, starts: int, iterations: int) -> np.ndarray:
    """The best point of the space found from ``candidates`` (already snapped) by polish and neighbourhood walk."""
    scores = log_ei.values(candidates)
    top = distinct_top(candidates, scores, starts)
    free = layout.free
    ends, end_scores = polish(log_ei, candidates[top], lower, upper, free, iterations)
    # Never worse than the scan: keep each start where L-BFGS-B ended lower.
    keep = end_scores < scores[top]
    ends[keep], end_scores[keep] = candidates[top][keep], scores[top][keep]
    winner = int(np.argmax(end_scores))
    best, best_score = ends[winner], float(end_scores[winner])
    for _ in range(MAX_NEIGHBOURHOOD_MOVES):
        around = layout.neighbours(best)
        if not len(around):
            break
        around_scores = log_ei.values(around)
        step = int(np.argmax(around_scores))
        if not around_scores[step] > best_score:
            break
        moved, moved_score = polish(log_ei, around[step:step + 1], lower, upper, free, iterations)
        if moved_score[0] > around_scores[step]:
            best, best_score = moved[0], float(moved_score[0])
        else:
            best, best_score = around[step], float(around_scores[step])
    return best
