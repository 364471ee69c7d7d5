"""An independent oracle: is a suggested point one that hyperopt itself could have drawn from the space?

Shared by the space translator's property test (quasi-random points) and the embedded engine's
(model-phase points): every active label present with a value in its distribution's support, every
inactive one absent, and ``space_eval`` accepting the point.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from hyperopt import space_eval
from hyperopt.base import Domain
from hyperopt.pyll_utils import expr_to_config


def hyperopt_is_active(conditions, choices) -> bool:
    """hyperopt's own activity rule (from expr_to_config), as an independent oracle."""
    return any(all(choices.get(c.name) == c.val for c in conjunction) for conjunction in conditions)


def check_in_support(node, value) -> None:
    args = {k: v.obj for k, v in node.arg.items() if hasattr(v, "obj")}
    name = node.name
    if name in ("uniform", "quniform"):
        assert args["low"] - 1e-9 <= value <= args["high"] + 1e-9
    if name in ("loguniform", "qloguniform"):
        assert math.exp(args["low"]) * (1 - 1e-9) <= value <= math.exp(args["high"]) * (1 + 1e-9)
    if name in ("lognormal", "qlognormal"):
        assert value > 0
    if name.startswith("q"):
        assert abs(value / args["q"] - round(value / args["q"])) < 1e-6
        assert isinstance(value, float)
    if name == "randint":
        low, high = (0, args["low"]) if args.get("high") is None else (args["low"], args["high"])
        assert isinstance(value, int) and low <= value < high
    if name == "categorical":
        assert isinstance(value, int)


def assert_points_in_support(space: Any, translated: Any, assignments: Sequence[dict], first_tid: int,
                             round_trip: bool = True) -> None:
    """Each SigOpt assignment, turned into hyperopt's idxs/vals, is a valid trial of ``space``.

    ``round_trip`` also checks that hyperopt's values map back to exactly the same point.
    """
    domain = Domain(lambda _: 0.0, space)
    config: dict = {}
    expr_to_config(domain.expr, None, config)
    for tid, point in enumerate(assignments, start=first_tid):
        idxs, vals = translated.to_idxs_vals(point, tid)
        assert set(vals) == set(domain.params)
        chosen = {label: v[0] for label, v in vals.items() if v}
        for label, info in config.items():
            active = hyperopt_is_active(info["conditions"], chosen)
            assert bool(vals[label]) == active, (label, point)
            assert idxs[label] == ([tid] if active else [])
            if active:
                node = info["node"]
                if node.name == "randint" and label in {l for l in config if translated[l].is_choice}:
                    assert 0 <= vals[label][0] < len(translated[label].categories)
                else:
                    check_in_support(node, vals[label][0])
        space_eval(space, chosen)  # hyperopt accepts the point
        if round_trip:  # and the way back gives SigOpt the same point
            assert translated.to_hyperopt(translated.to_sigopt(vals)) == chosen
