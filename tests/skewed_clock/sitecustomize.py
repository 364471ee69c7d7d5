"""Put on a process's PYTHONPATH to run it on a machine whose wall clock is off by SKEWED_CLOCK_SECONDS.

libfaketime (Debian's ``faketime``) would be the natural tool, but under it Python's ``time.sleep``
fails with EINVAL or a ``threading.Event.wait`` lasts the whole offset on this machine, so the
process's wall clock is shifted here instead, before anything else is imported: ``time.time`` and
``datetime.datetime.now``/``utcnow``/``today`` (the monotonic clock stays true, as on a real machine
whose wall clock is wrong).
"""

import datetime
import os
import time

_SKEW = float(os.environ.get("SKEWED_CLOCK_SECONDS", "0"))
_real_time = time.time


def _skewed_time() -> float:
    return _real_time() + _SKEW


_real_datetime = datetime.datetime


class _AnyDatetime(type):
    """Every datetime (the ones pymongo decodes are of the real class) still passes isinstance."""

    def __instancecheck__(cls, instance):
        return isinstance(instance, _real_datetime)


class _SkewedDatetime(datetime.datetime, metaclass=_AnyDatetime):
    @classmethod
    def now(cls, tz=None):
        return _real_datetime.fromtimestamp(_skewed_time(), tz)

    @classmethod
    def utcnow(cls):
        return _real_datetime.fromtimestamp(_skewed_time(), datetime.timezone.utc).replace(tzinfo=None)

    @classmethod
    def today(cls):
        return cls.now()


if _SKEW:
    time.time = _skewed_time
    datetime.datetime = _SkewedDatetime
