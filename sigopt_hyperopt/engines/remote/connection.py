"""The ``sigopt.Connection`` the remote engine uses, with one change to the client's HTTP driver.

The ``sigopt`` client retries HTTP 429 on its own (exponential backoff for up to its whole request
timeout, 150 s by default) and ignores the server's ``Retry-After``; every other failure it raises at
once.  Two retry loops stacked on each other would multiply the waits and hide the server's advice,
so the driver here makes the client hand 429 back at once, with the ``Retry-After`` value on the
exception, and :mod:`sigopt_hyperopt.engines.remote.retry` decides alone.  (The client also sleeps a second or more
after five failed answers in a row; that throttle is kept, it only slows a failing run down.)

A ``sigopt.Connection`` passed in by the user is used as it is: its 429 handling then composes with
ours (the client waits out 429s first; ours handles the rest).
"""

from __future__ import annotations

import email.utils
import time
from http import HTTPStatus
from typing import Any

import sigopt
from sigopt.exception import ApiException
from sigopt.request_driver import RequestDriver


class RetryAfterAwareDriver(RequestDriver):
    """The client's HTTP driver, minus its own 429 loop, plus ``retry_after`` on ``ApiException``."""

    def _request(self, method: str, url: str, params: Any, json: Any, headers: Any) -> Any:
        response = super()._request(method, url, params, json, headers)
        if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
            # Raising here ends the client's own backoff loop, which retries only answers it is given.
            self._handle_response(response)
        return response

    def _handle_response(self, response: Any) -> Any:
        try:
            return super()._handle_response(response)
        except ApiException as error:
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
            raise


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number (fractions tolerated) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def open_connection(token: str, *, timeout: float) -> Any:
    """A connection to ``SIGOPT_API_URL`` (hosted SigOpt when unset) with the given token."""
    connection = sigopt.Connection(client_token=token, driver=RetryAfterAwareDriver)
    connection.set_timeout(timeout)
    return connection
