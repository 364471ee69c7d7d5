"""Retrying calls to a SigOpt server: which failures are worth another try, and how long to wait.

Networks drop, servers answer 429 (too many requests) and 5xx, and a request may be processed while
its answer is lost.  :func:`call_with_retries` runs one API call with exponential backoff and full
jitter, bounded in attempts *and* total time, and honours a server's ``Retry-After``.  A refusal that
another try cannot fix (400, 401, 403, 404, 409, 422) is not retried: it becomes one of the package's
errors with a message that says what to fix, so a wrong token never looks like a network problem.

Calls that create something (an observation, a suggestion) are not safe to repeat blindly; the
caller passes ``before_retry``, which looks at the server's state and may answer "already done"
(see :class:`AlreadyDone`) instead of letting the call run again.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

try:
    from sigopt.exception import ApiException, ConnectionException
except ImportError:  # no `server` extra: the embedded engine makes no call these could come from

    class ApiException(Exception):  # type: ignore[no-redef]
        """Stands in for the SigOpt client's error, which nothing here can raise without the client."""

        status_code: int | None = None

    class ConnectionException(Exception):  # type: ignore[no-redef]
        """Stands in for the SigOpt client's network error (see ApiException)."""

from ...errors import AuthenticationError, ConfigurationError, EngineError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP answers that say "try again later"; every other 4xx is a mistake another try cannot fix."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.  The defaults ride out a server restart or a short network outage.

    ``request_timeout`` bounds one HTTP request (the ``sigopt`` client's own default is 150 s); a
    request that times out is treated like a dropped connection: retried, and for creations, checked
    against the server first.
    """

    max_attempts: int = 8
    max_total_seconds: float = 300.0
    initial_delay: float = 1.0
    max_delay: float = 60.0
    request_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or min(self.max_total_seconds, self.initial_delay, self.max_delay) < 0 \
                or self.request_timeout <= 0:
            raise ConfigurationError(
                f"{self} is not a usable retry policy: max_attempts must be at least 1, the times non-negative "
                "and request_timeout positive."
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, initial_delay * 2**(attempt-1))]."""
        return rng.uniform(0.0, min(self.max_delay, self.initial_delay * 2 ** (attempt - 1)))


DEFAULT_POLICY = RetryPolicy()


class AlreadyDone(Exception):
    """Raised by a ``before_retry`` check: the earlier attempt went through; ``value`` is its result."""

    def __init__(self, value: object) -> None:
        super().__init__("the earlier attempt went through")
        self.value = value


def is_retryable(error: Exception) -> bool:
    if isinstance(error, ConnectionException):
        return True
    return isinstance(error, ApiException) and error.status_code in RETRYABLE_STATUSES


def retry_after_seconds(error: Exception) -> float | None:
    """The server's ``Retry-After``, when the connection's driver recorded it (see :mod:`.http`)."""
    value = getattr(error, "retry_after", None)
    return float(value) if value is not None else None


def call_with_retries(
    what: str,
    call: Callable[[], T],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    before_retry: Callable[[], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run ``call``; on a retryable failure wait and try again, within ``policy``'s bounds.

    ``what`` completes "while trying to ..." in messages.  ``before_retry`` runs before every repeat
    of a call whose earlier attempt may have been processed (any failure but a 429, which servers
    send before doing anything); it raises :class:`AlreadyDone` to end the call with that result.
    """
    rng = rng or random.Random()
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except (ApiException, ConnectionException) as error:
            if not is_retryable(error):
                raise refusal(what, error) from None
            elapsed = time.monotonic() - started
            wait = policy.delay(attempt, rng)
            asked = retry_after_seconds(error)
            if asked is not None:
                wait = max(wait, asked)
            if attempt >= policy.max_attempts or elapsed + wait > policy.max_total_seconds:
                raise gave_up(what, error, attempt, elapsed, asked) from None
            logger.warning("SigOpt: %s failed (%s); attempt %d of %d in %.2f s",
                           what, describe(error), attempt + 1, policy.max_attempts, wait)
            time.sleep(wait)
            if before_retry is not None and not _rate_limited(error):
                try:
                    call_with_retries(f"check whether the earlier attempt to {what} went through",
                                      before_retry, policy, rng=rng)
                except AlreadyDone as done:
                    logger.info("SigOpt: the earlier attempt to %s went through; not repeating it", what)
                    return done.value  # type: ignore[return-value]


def _rate_limited(error: Exception) -> bool:
    return isinstance(error, ApiException) and error.status_code == 429


def describe(error: Exception) -> str:
    """A one-line account of a client error, without the client's boilerplate."""
    if isinstance(error, ApiException):
        return f"HTTP {error.status_code}" + (f": {error.message}" if error.message else "")
    lines = [line for line in str(getattr(error, "message", error)).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def refusal(what: str, error: Exception) -> EngineError:
    """The error for an answer another try cannot change, saying what to fix; ``.status`` is the HTTP status."""
    status = getattr(error, "status_code", None)
    refused = _refusal_message(what, error, status)
    refused.status = status  # type: ignore[attr-defined]
    return refused


def _refusal_message(what: str, error: Exception, status: int | None) -> EngineError:
    if status in (401, 403):
        return AuthenticationError(
            f"SigOpt refused the API token while trying to {what} (HTTP {status}). "
            "Check SIGOPT_API_TOKEN (and SIGOPT_API_URL for a self-hosted sigopt-server): the token must "
            "belong to the server and team that hold the experiment."
        )
    if status == 404:
        return EngineError(
            f"SigOpt found nothing to {what} (HTTP 404: {getattr(error, 'message', '')}). Check experiment_id "
            "and that SIGOPT_API_URL points at the server that holds the experiment."
        )
    return EngineError(f"SigOpt refused to {what} ({describe(error)}); this is not a network problem, "
                       "retrying will not help: check the request (space, options) it names.")


def gave_up(what: str, error: Exception, attempts: int, elapsed: float, asked: float | None) -> EngineError:
    if isinstance(error, ConnectionException):
        hint = "check the network and SIGOPT_API_URL"
    elif asked is not None and _rate_limited(error):
        hint = f"the server asked to wait {asked:.0f} s more (rate limit); lower the request rate or try later"
    else:
        hint = "the server keeps failing; check its health and try again (the search resumes from the trials)"
    return EngineError(
        f"Could not reach SigOpt to {what} after {attempts} attempt(s) in {elapsed:.0f} s "
        f"(last: {describe(error)}); {hint}."
    )
