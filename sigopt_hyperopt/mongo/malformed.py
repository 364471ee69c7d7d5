"""What a job document must hold before a worker can run it, and what is wrong with one that does not.

Anyone who can write the database can queue a job, and hyperopt's worker read the fields it needs
as it went: a job without ``tid`` killed the worker (the error handler itself read ``tid``), one
without ``exp_key`` stayed RUNNING under a worker that had moved on.  A worker checks the shape
first, so a malformed job ends in ERROR with the reason and the worker takes the next one.
"""

from __future__ import annotations

from typing import Any


def what_is_malformed(job: dict) -> str | None:
    """Why ``job`` cannot be run (``"malformed job: ..."``), or None when it has what a worker reads."""
    problems = []
    tid = job.get("tid")
    if "tid" not in job:
        problems.append("it has no tid")
    elif not isinstance(tid, int) or isinstance(tid, bool):
        problems.append(f"its tid is {_shown(tid)}, not an integer")
    if "exp_key" not in job:
        problems.append("it has no exp_key (null for a search without one)")
    elif job["exp_key"] is not None and not isinstance(job["exp_key"], str):
        problems.append(f"its exp_key is {_shown(job['exp_key'])}, not a string")
    misc = job.get("misc")
    if "misc" not in job:
        problems.append("it has no misc")
    elif not isinstance(misc, dict):
        problems.append(f"its misc is {_shown(misc)}, not a document")
    else:
        cmd = misc.get("cmd")
        if not (isinstance(cmd, (list, tuple)) and len(cmd) == 2 and isinstance(cmd[1], str)):
            problems.append(f"its misc.cmd is {_shown(cmd)}, not (kind, attachment name)")
        for name in ("idxs", "vals"):
            value = misc.get(name)
            if not (isinstance(value, dict) and all(isinstance(v, list) and len(v) <= 1 for v in value.values())):
                problems.append(f"its misc.{name} is {_shown(value)}, not a document of lists of at most one value")
    return "malformed job: " + "; ".join(problems) if problems else None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
