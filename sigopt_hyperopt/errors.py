"""The package's own exceptions.

Every error a user can cause (a space SigOpt cannot express, a wrong token, a missing optional
dependency, a trials store that belongs to another search) is one of these, with a message that
says what to do.  Catch :class:`SigOptHyperoptError` to catch them all.
"""

from __future__ import annotations

from hyperopt.exceptions import AllTrialsFailed


class SigOptHyperoptError(Exception):
    """Base class of every error raised on purpose by sigopt-hyperopt."""


class UnsupportedSpaceError(SigOptHyperoptError, ValueError):
    """A hyperopt space (or one label of it) that SigOpt cannot express.

    Raised while translating the space, before any evaluation runs.
    """

    def __init__(self, label: str | None, reason: str) -> None:
        self.label = label
        self.reason = reason
        where = f"hyperparameter {label!r}" if label is not None else "the search space"
        super().__init__(f"SigOpt cannot express {where}: {reason}")


class ConfigurationError(SigOptHyperoptError, ValueError):
    """The algorithm was configured in a way that cannot work (bad option, missing dependency)."""


class SearchMismatchError(SigOptHyperoptError):
    """The trials store (or a given experiment) belongs to a different search space."""


class MetricsError(SigOptHyperoptError, ValueError):
    """A metric declaration (or linear constraint) SigOpt cannot run: raised before any evaluation."""


class EngineError(SigOptHyperoptError):
    """The optimizer (embedded or remote) failed in a way the user has to act on."""


class AuthenticationError(EngineError):
    """SigOpt rejected the API token."""


class ClusterError(SigOptHyperoptError):
    """A cluster command cannot go on: a missing key file, an unreachable host, AWS said no, ...

    Raised before work is wasted where the cause can be seen up front (a wrong key path, a refused
    security-group rule); per-host failures during a bootstrap are reported per host instead.
    """


class DatabaseError(SigOptHyperoptError):
    """The MongoDB store cannot be used: bad URL, unreachable server, refused credentials."""


class RefusedOperationError(DatabaseError):
    """The database refuses one operation (by closing the connection on it) while answering others.

    FerretDB does this for values it cannot store (a NaN).  Not an outage: retrying cannot help, so
    the caller fails the one thing that needed the operation (a worker: that job) and goes on.
    """


class SearchBusyError(SigOptHyperoptError):
    """Another driver is running this search (same store and ``exp_key``)."""


class ObjectiveResultError(SigOptHyperoptError, TypeError):
    """The objective returned something hyperopt cannot read as a result (a string, None, a list...)."""


class AllTrialsFailedError(SigOptHyperoptError, AllTrialsFailed):
    """Every trial of the search failed, so there is no best point to return.

    Also a hyperopt ``AllTrialsFailed``, so code written against hyperopt's ``fmin`` still catches it.
    """


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a ``MongoTrials`` search; the message says what was kept and how to continue.

    A ``KeyboardInterrupt``, not a :class:`SigOptHyperoptError`: code that stops on Ctrl-C still
    stops, and an ``except Exception`` does not swallow it.  Uncaught, it ends a script with exit
    status 1 (Python ends with SIGINT only for a plain ``KeyboardInterrupt``).
    """
