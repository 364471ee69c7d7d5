"""Questions put to the embedded engine that are not options of it: the columns ``sigopt@NAME``.

An option of ``EngineOptions`` is something a user may switch.  A probe is a measurement: "would a
ten times harder search for the acquisition's maximum find better points?", "do the fit's random
starts matter?".  Each probe patches the engine's classes in the process that runs the search (a pool
process runs one search at a time, as for the options) for that search only, so its answer needs no
switch in the product.
A column may combine both, and probes with each other: ``sigopt:+wide_prior@acquisition_10x+fit_without_prior_draws``.
"""

from __future__ import annotations

import contextlib
from typing import Callable, ContextManager, Iterator
from unittest import mock


def _acquisition_10x() -> ContextManager:
    """Ten times the acquisition search's candidates, four times its L-BFGS-B starts and iterations."""
    from sigopt_hyperopt.engines.embedded.acquisition import BatchedGpNextPoints, SearchBudget

    return mock.patch.object(BatchedGpNextPoints, "budget", SearchBudget(
        global_candidates=20_000, local_candidates=500, lbfgs_starts=20, lbfgs_iterations=100))


def _fit_without_prior_draws() -> ContextManager:
    """A full MAP fit is one L-BFGS-B run from libsigopt's default hyperparameters (as GPSampler's fit
    starts from its defaults), not six (also from the prior's median and four draws from the prior).
    Measured, it became the default (``prior_draws`` off): on today's engine the probe changes nothing,
    and the engine it was measured against is ``sigopt:+prior_draws``."""
    from sigopt_hyperopt.engines.embedded import map_fit

    return mock.patch.object(map_fit.MapHyperparameterFit, "random_starts", 0)


PROBES: dict[str, Callable[[], ContextManager]] = {
    "acquisition_10x": _acquisition_10x,
    "fit_without_prior_draws": _fit_without_prior_draws,
}


def split(algorithm: str) -> tuple[str, str | None]:
    """``sigopt:+a@p+q`` -> (``sigopt:+a``, ``p+q``); without ``@`` the probe is None."""
    base, _, probe = algorithm.partition("@")
    for name in probe.split("+") if probe else ():
        if name not in PROBES:
            raise SystemExit(f"unknown engine probe {name!r}; known: {', '.join(sorted(PROBES))}")
    return base, probe or None


@contextlib.contextmanager
def applied(probe: str | None) -> Iterator[None]:
    """The engine changed as ``probe`` (names joined by ``+``) says, until the block ends."""
    with contextlib.ExitStack() as stack:
        for name in probe.split("+") if probe else ():
            stack.enter_context(PROBES[name]())
        yield
