"""Give libsigopt a seeded numpy global generator without disturbing the caller's.

libsigopt draws every random number from numpy's *global* generator (``numpy.random.*``), so the
only way to make its answers reproducible is to seed that generator.  A library must not leave a
user's global random state changed, so the state is saved before and put back afterwards, also when
the body raises.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np


@contextlib.contextmanager
def isolated_numpy_random(seed: int) -> Iterator[None]:
    """Seed numpy's global generator with ``seed`` for the body; restore the caller's state after it."""
    saved = np.random.get_state()
    np.random.seed(int(seed) % (2**32))
    try:
        yield
    finally:
        np.random.set_state(saved)
