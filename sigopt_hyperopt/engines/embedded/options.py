"""The embedded engine's ingredients, each switchable, so a benchmark can say what each one buys.

The defaults are the measured choice (docs/benchmarks.md, *Embedded engine: ablation*); the other
values exist for that ablation and for a user who wants the engine as it was.  Switching one off
brings back libsigopt's own behaviour for that part.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineOptions:
    """What the embedded engine builds around libsigopt's Gaussian process."""

    output_warping: bool = True
    """Model a monotone (Yeo–Johnson) warp of the losses, not the losses: a loss that spans decades or
    has a diverging tail otherwise makes the GP's length scales and variance serve the outliers."""
    fit_noise: bool = False
    """Fit a homoscedastic noise variance with the other hyperparameters (libsigopt's *tikhonov*
    term), rather than assuming the objective is exact."""
    mean_incumbent: bool = False
    """Improvement is measured from the best posterior mean at an evaluated point, not from the best
    (possibly lucky) noisy observation."""
    log_ei: bool = False
    """Search the logarithm of expected improvement (finite where EI underflows) and polish the best
    candidates with batched L-BFGS-B on its gradient, instead of a short Adam ascent on EI."""
    map_fit: bool = True
    """Fit the GP's hyperparameters as a posterior mode (priors on length scales, signal and noise
    variance) with L-BFGS-B in log parameters (:mod:`~sigopt_hyperopt.engines.embedded.map_fit`), instead of
    libsigopt's maximum likelihood by SLSQP."""
    wide_prior: bool = False
    """With ``map_fit``: the dimension-scaled log-normal length-scale prior instead of the tight one."""
    fast_fit: bool = True
    """With ``map_fit``: a warm refit starts from the previous count's fit only (a chain back to the
    last anchor, at most ``ANCHOR_EVERY - 1`` fits long, so the schedule stays pure), not also from the
    prior's median, and every fit stops at looser tolerances; the hyperparameters move little between
    observations, and the fit is most of a suggestion's time."""
    prior_draws: bool = False
    """With ``map_fit``: a full fit (at an anchor count) also runs L-BFGS-B from the prior's median and
    from :data:`~.map_fit.RANDOM_STARTS` draws from the prior, not only from libsigopt's default
    hyperparameters.  Measured on the 22 problems with 20 seeds, the extra starts bought nothing
    significant and cost half of a suggestion's time; the multimetric fits keep them (their
    hypervolume benchmark was measured with them)."""
    space_filling_design: bool = False
    """The initialization phase's points as one discrepancy-optimized Latin hypercube over the domain
    (:mod:`~sigopt_hyperopt.engines.embedded.initial_design`), instead of libsigopt's independent uniform draws."""
    discrete_search: bool = True
    """Search expected improvement over points of the space (categoricals one-hot, integers and grids
    on their values; :mod:`~sigopt_hyperopt.engines.embedded.discrete_search`) with logEI and L-BFGS-B on the
    continuous coordinates, instead of over libsigopt's continuous relaxation rounded at the end."""
    keep_close_points: bool = True
    """Keep a suggestion however close it is to an evaluated point (only a repeat is replaced),
    instead of libsigopt's replacing any suggestion within 1 % of the domain's scale of an
    evaluated point by a random one: that rule makes fine convergence on an optimum impossible."""
    warm_fit: bool = True
    """Between anchor counts, refit the hyperparameters from the last anchor's fit with few restarts
    instead of libsigopt's ten random ones (a pure schedule: anchors depend only on the oldest
    observations)."""
    categorical_prior: bool = True
    """With ``map_fit``: the one-hot length scales of the space's categorical parameters get the
    numeric ones' prior (centred on a coordinate's span) and may grow to ``LENGTH_SCALE_UPPER``, so
    categories that behave alike can be modelled as alike (libsigopt caps them at 1.01, which keeps
    any two categories far apart; GPSampler puts its one prior on every parameter).  A conditional's
    branches, which sigoptlite models as a categorical too, keep libsigopt's bounds: they are
    different functions."""
    capped_initialization: bool = False
    """The random first phase is SigOpt's broker's length (twice the dimension, plus one) but at most
    :data:`INITIALIZATION_CAP` points: in 8 or 9 dimensions the broker's rule spends 17 or 19 of a
    40-evaluation budget on random points."""
    lean_initialization: bool = False
    """The random first phase is the dimension plus one points (at least five); shorter than
    ``capped_initialization`` wherever the two differ."""


INITIALIZATION_CAP = 10
"""``capped_initialization``'s longest first phase (Optuna's GPSampler starts with 10 random points)."""

OUT_OF_THE_FIT_DIGEST = ("capped_initialization", "lean_initialization", "categorical_prior", "prior_draws")
"""Options left out of the fit's digest (:func:`~sigopt_hyperopt.engines.embedded.model.fingerprint`),
which seeds the fit's random starts: the first two choose which points are evaluated, never how a set
of observations is fitted; ``categorical_prior`` enters it as the parameters it puts its prior on, so
on a space without categoricals the fit is exactly the one without it.  Switching one compares only
its effect, not also reseeded starts; ``prior_draws`` decides only whether the seeded draws are
made, so with it on a fit is the one made before the option existed.  (Older options stay in the
digest, so that stored benchmark runs reproduce.)"""


DEFAULT_OPTIONS = EngineOptions()
