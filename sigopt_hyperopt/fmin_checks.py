"""The checks ``sigopt_hyperopt.fmin`` adds around hyperopt's ``fmin``, so a mistake says what to do.

hyperopt reports these with its own internals' words: an objective that returns a string ends in
``ValueError: dictionary update sequence element #0 ...`` (it calls ``dict()`` on the result),
``max_evals=0`` in ``Exception: There are no evaluation tasks ...`` after the search is set up,
and a search whose every trial failed in a bare ``AllTrialsFailed``.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, Callable, Iterable

import numpy as np
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, STATUS_OK, STATUS_STRINGS
from hyperopt.exceptions import AllTrialsFailed

from .errors import AllTrialsFailedError, ConfigurationError, ObjectiveResultError
from .metrics import Metric, loss_for_hyperopt
from .reporting import all_trial_docs

RESULT_RULE = ("an objective must return a number (the loss) or a dict with 'status' ('ok' or 'fail') and, "
               "when 'ok', 'loss' (a number), e.g. return {'loss': loss, 'status': 'ok'}")


def check_max_evals(max_evals: Any, trials: Any) -> None:
    """Refuse a ``max_evals`` that can neither run an evaluation nor return a best point, before any work.

    ``max_evals`` counts the trials already in the store, so 0 is meaningful when there are some (finish
    what is running, return the best so far); with none, hyperopt would fail at the end instead.
    """
    if max_evals is None:
        return  # hyperopt's "no limit": timeout or loss_threshold ends the search
    whole = isinstance(max_evals, numbers.Integral) and not isinstance(max_evals, bool)
    if whole and (max_evals > 0 or (max_evals == 0 and all_trial_docs(trials))):
        return
    raise ConfigurationError(
        f"max_evals={max_evals!r}: give the number of evaluations the search should reach, a positive whole number "
        "(it counts the trials already in `trials`, so raise it to continue a search)"
    )


class CheckedObjective:
    """The user's objective, with its result checked before hyperopt reads it.

    A class at module level, so it pickles by reference (MongoTrials workers unpickle it, as they
    have this package) while the objective inside pickles as it would alone.
    """

    def __init__(self, fn: Callable[..., Any], metrics: tuple[Metric, ...] = ()) -> None:
        self.fn = fn
        self.metrics = metrics
        """A multimetric search's declaration: results then carry ``"metrics"``, and ``"loss"`` is filled."""
        # hyperopt's Domain reads this attribute of the objective it is given.
        self.fmin_pass_expr_memo_ctrl = getattr(fn, "fmin_pass_expr_memo_ctrl", False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.fn(*args, **kwargs)
        if self.metrics:
            result = with_loss(result, self.metrics)
        problem = result_problem(result)
        if problem is not None:
            rule = MULTIMETRIC_RESULT_RULE if self.metrics else RESULT_RULE
            raise ObjectiveResultError(f"The objective {problem}; {rule}.")
        return result


MULTIMETRIC_RESULT_RULE = ("in a search with metrics=, an objective must return a dict with 'status' ('ok' or 'fail') "
                           "and, when 'ok', 'metrics' (a dict of each declared metric's value), e.g. "
                           "return {'status': 'ok', 'metrics': {'accuracy': 0.93, 'latency_ms': 12.0}}")


def with_loss(result: Any, metrics: tuple[Metric, ...]) -> Any:
    """A multimetric result with hyperopt's ``loss`` filled when the objective left it out (see
    :func:`~sigopt_hyperopt.metrics.loss_for_hyperopt`); a loss the objective gave is kept."""
    if isinstance(result, Mapping) and result.get("status") == STATUS_OK and "loss" not in result:
        result = dict(result)
        result["loss"] = loss_for_hyperopt(metrics, result.get("metrics"))
    return result


def result_problem(result: Any) -> str | None:
    """What is wrong with an objective's return value, in words, or None when hyperopt can read it."""
    if isinstance(result, (numbers.Number, np.number)) and not isinstance(result, complex):
        return None
    if not isinstance(result, Mapping):
        return f"returned {type(result).__name__} {_short(result)}"
    status = result.get("status")
    if status not in STATUS_STRINGS:
        return f"returned a dict with {'no' if status is None else 'an unknown'} 'status' ({_short(status)})"
    if status == STATUS_OK:
        try:
            float(result["loss"])
        except (KeyError, TypeError, ValueError):
            return "returned status 'ok' but its 'loss' is missing or not a number"
    return None


NO_SUCCESS_MESSAGES = (
    "There are no evaluation tasks",  # hyperopt.fmin: every trial raised (trials.trials hides ERROR ones)
    "There are no finished trials",  # the same end of a MongoTrials search (mongo/dispatch.py)
)


def no_trial_succeeded(error: BaseException, trials: Any) -> bool:
    """Whether hyperopt's ``fmin`` raised because trials finished and none of them succeeded."""
    if isinstance(error, AllTrialsFailed):
        return True
    if type(error) not in (Exception, ValueError) or not str(error).startswith(NO_SUCCESS_MESSAGES):
        return False
    return any(doc.get("state") in (JOB_STATE_DONE, JOB_STATE_ERROR) for doc in all_trial_docs(trials))


def all_trials_failed(trials: Any) -> AllTrialsFailedError:
    """The error for a search that ended with no successful trial: how many, and the first reason."""
    docs = all_trial_docs(trials)
    failed = [doc for doc in docs if doc.get("state") in (JOB_STATE_DONE, JOB_STATE_ERROR)]  # none succeeded
    first = first_failure(failed)
    return AllTrialsFailedError(
        ("The only trial failed" if len(failed) == 1 else f"All {len(failed)} trials failed")
        + ", so there is no best point to return"
        + (f" (the first: {first})" if first else "")
        + ". Fix the objective (run it by hand on one point of the space), or have it return "
          "{'status': 'fail'} only for points it cannot evaluate; the trials object holds every trial."
    )


def first_failure(docs: Iterable[dict]) -> str | None:
    """The first failed trial's reason among ``docs``, in words (with the worker's name, host:pid:token, when a worker ran it)."""
    return next((reason for reason in map(failure_reason, docs) if reason), None)


def failure_reason(doc: dict) -> str | None:
    """Why one finished trial failed, or None when it succeeded.

    A trial a ``MongoTrials`` worker ran names that worker: a worker that cannot run
    the search (its objective's module is missing there) fails on its machine, not on the driver's.
    """
    tid = doc.get("tid")
    where = f" on worker {doc['owner']}" if doc.get("owner") else ""  # host:pid:token, as the worker logs it
    if doc.get("state") == JOB_STATE_ERROR:
        error = (doc.get("misc") or {}).get("error") or doc.get("error")  # hyperopt's place, then a worker's
        if error:
            kind, message = (list(error) + [""])[:2]
            named = re.fullmatch(r"<class '(?:builtins\.)?(.+)'>", str(kind))  # hyperopt stores str(type(error))
            return f"trial {tid}{where} raised {named.group(1) if named else kind}: {message}"
        return f"trial {tid}{where} raised an error"
    result = doc.get("result") or {}
    if result.get("status") == STATUS_OK:
        loss = result.get("loss")
        if isinstance(loss, numbers.Real) and math.isnan(loss):
            return f"trial {tid} returned loss nan"
        return None
    details = {k: v for k, v in result.items() if k != "status"}
    return f"trial {tid} returned status {result.get('status')!r}" + (f" {_short(details)}" if details else "")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
