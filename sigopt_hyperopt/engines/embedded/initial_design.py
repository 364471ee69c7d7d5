"""The first points of a search as one space-filling design over SigOpt's domain.

libsigopt's initialization phase draws every coordinate uniformly at random, call by call: with
5-17 first points in 2-8 dimensions, random draws leave holes and clumps that the model then has to
learn around.  The design is a Latin hypercube (every parameter's range cut into as many slices as
there are first points, one point per slice) whose pairs are then shuffled to lower its centred
discrepancy (scipy's ``random-cd``).  Measured for 17 points in 8 dimensions, 20 seeds: centred
discrepancy 0.071 against 0.243 for uniform draws; in every pair of parameters the points fall in
12.4 of 16 cells of a 4 x 4 grid against 10.3.  A scrambled Sobol sequence, the obvious choice, was
worse where it matters: 12.1 cells on average but 4 in some pairs of its later dimensions.

The engine is a pure function of the trials, so the design must be too: point ``n`` of a search is
point ``n`` of the one design, ``n`` counting the finished and pending points.  The design's seed is
keyed by the search's first point (its earliest trial), which the first call's seed drew at random
(as the first point of a design of its own): a new search gets a new design, a restarted driver the
same one.  That first point is not in the design (measured: centred discrepancy 0.090 with it,
against 0.071), a small price for a design that needs no state beyond the trials.

Each coordinate maps the unit interval onto its SigOpt parameter: a double linearly (SigOpt's log
transformation is already applied to the domain), an integer and a grid or categorical parameter by
equal slices.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
from libsigopt.aux.constant import INT_EXPERIMENT_PARAMETER_NAME, DOUBLE_EXPERIMENT_PARAMETER_NAME
from libsigopt.compute.domain import CategoricalDomain
from scipy.stats import qmc

from ...space import Assignments


def design_seed(first_point: Assignments) -> int:
    """The design's seed, from the search's first point (numbers compared as floats: a point read back
    from the trials may carry 3 where the engine suggested 3.0)."""
    def canonical(value: Any) -> str:
        return repr(float(value)) if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
            else repr(value)

    text = repr(sorted((str(k), canonical(v)) for k, v in first_point.items()))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@lru_cache(maxsize=8)
def unit_design(dimension: int, size: int, seed: int) -> np.ndarray:
    """A ``size``-point design in the unit cube (cached: 0.2 s for 17 points in 8-D, asked for at every call)."""
    points = qmc.LatinHypercube(dimension, optimization="random-cd", seed=seed).random(size)
    points.setflags(write=False)
    return points


def on_domain(domain: CategoricalDomain, unit: np.ndarray) -> np.ndarray:
    """Unit-cube points mapped onto the domain's components (the points libsigopt's views return)."""
    columns = []
    for u, component in zip(unit.T, domain.domain_components):
        elements = component["elements"]
        kind = component["var_type"]
        if kind == DOUBLE_EXPERIMENT_PARAMETER_NAME:
            low, high = elements
            columns.append(low + u * (high - low))
        elif kind == INT_EXPERIMENT_PARAMETER_NAME:
            low, high = elements
            columns.append(np.minimum(low + np.floor(u * (high - low + 1)), high))
        else:  # categorical or grid: one equal slice per element
            values = np.asarray(elements, dtype=float)
            columns.append(values[np.minimum((u * len(values)).astype(int), len(values) - 1)])
    return np.column_stack(columns)


def design_points(domain_info: Any, size: int, start: int, count: int, seed: int) -> np.ndarray | None:
    """Points ``start`` to ``start + count - 1`` of a ``size``-point design (fewer past its end);
    None where the domain has linear constraints (libsigopt's samplers handle those)."""
    domain = CategoricalDomain(**asdict(domain_info))
    if domain.constraint_list:
        return None
    return on_domain(domain, unit_design(domain.dim, size, seed)[start:start + count])


def first_point(known: Sequence[Any], pending: Sequence[Assignments]) -> Assignments | None:
    """The search's earliest point: the finished trial with the lowest id, else the first pending one."""
    if known:
        return dict(min(known, key=lambda o: o.key).assignments)
    return dict(pending[0]) if pending else None
