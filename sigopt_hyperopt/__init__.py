"""SigOpt's Bayesian optimizer as a hyperopt search algorithm.

``sigopt_hyperopt.fmin(fn, space, ...)`` (hyperopt's ``fmin`` that also finishes the SigOpt
experiment) or ``hyperopt.fmin(fn, space, algo=sigopt_suggest, ...)`` works with any hyperopt space,
with SigOpt's optimizer embedded in the process by default, or a hosted/self-hosted SigOpt server
when ``SIGOPT_API_TOKEN`` is set.
"""

from .adapter import fmin
from .algo import report_finished, sigopt_suggest
from .engines.remote.retry import RetryPolicy
from .errors import (
    AllTrialsFailedError,
    AuthenticationError,
    ConfigurationError,
    EngineError,
    MetricsError,
    ObjectiveResultError,
    SearchMismatchError,
    SigOptHyperoptError,
    UnsupportedSpaceError,
)
from .metrics import LinearConstraint, Metric
from .metrics_results import MetricsRecord, best_feasible, pareto_front
from .space import TranslatedSpace, translate

__version__ = "0.1.0"


def __getattr__(name: str):
    """``MongoTrials`` without importing pymongo for searches that do not use it."""
    if name == "MongoTrials":
        from .mongo import MongoTrials

        return MongoTrials
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AllTrialsFailedError",
    "AuthenticationError",
    "ConfigurationError",
    "EngineError",
    "LinearConstraint",
    "Metric",
    "MetricsError",
    "MetricsRecord",
    "MongoTrials",
    "ObjectiveResultError",
    "RetryPolicy",
    "SearchMismatchError",
    "SigOptHyperoptError",
    "TranslatedSpace",
    "UnsupportedSpaceError",
    "best_feasible",
    "pareto_front",
    "report_finished",
    "sigopt_suggest",
    "translate",
    "fmin",
    "__version__",
]
