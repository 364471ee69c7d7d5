"""One working directory for a process whose threads run objectives at the same time.

The working directory belongs to the process, not to a thread.  hyperopt's ``MongoWorker`` changes it
around each objective and resolves a relative ``workdir`` against it, so two workers in threads of one
process nest their directories (``mongoexp_test_dir/mongoexp_test_dir``) and restore each other's
wrong one.  :func:`working_in` lets threads share a directory: the first one in changes to it, the
others asking for the same one join, one asking for another waits until everybody left, and the last
one out restores the directory the first one found (and removes the directory if it was created here
and removal was asked for).  Relative paths resolve against that original directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from typing import Iterator

_changed = threading.Condition()
_state: dict = {"directory": None, "users": 0, "previous": None, "created": False}


def resolve(path: str) -> str:
    """``path`` made absolute against the directory the process is in outside any :func:`working_in`."""
    with _changed:
        base = _state["previous"] if _state["users"] else os.getcwd()
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


@contextlib.contextmanager
def working_in(directory: str, erase_created: bool = False) -> Iterator[str]:
    """Run the block in ``directory`` (made if missing), shared with other threads asking for the same."""
    directory = resolve(directory)
    with _changed:
        while _state["users"] and _state["directory"] != directory:
            _changed.wait()
        if not _state["users"]:
            created = not os.path.exists(directory)
            os.makedirs(directory, exist_ok=True)
            _state.update(previous=os.getcwd(), directory=directory, created=created)
            os.chdir(directory)
        _state["users"] += 1
    try:
        yield directory
    finally:
        with _changed:
            _state["users"] -= 1
            if not _state["users"]:
                os.chdir(_state["previous"])
                if erase_created and _state["created"]:
                    shutil.rmtree(directory, ignore_errors=True)
                _state.update(directory=None, previous=None, created=False)
                _changed.notify_all()
