"""Search spaces shared by the tests, and hypothesis strategies that build random ones."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from hyperopt import hp

# One space with every kind of hyperparameter hyperopt offers, nested choices, containers and arithmetic.
EVERY_KIND = {
    "uniform": hp.uniform("uniform", -2.0, 3.0),
    "quniform": hp.quniform("quniform", 0.5, 10.0, 0.5),
    "loguniform": hp.loguniform("loguniform", np.log(1e-4), np.log(1.0)),
    "qloguniform": hp.qloguniform("qloguniform", np.log(1), np.log(2000), 1),
    "normal": hp.normal("normal", 1.0, 2.0),
    "qnormal": hp.qnormal("qnormal", 0.0, 3.0, 1.0),
    "lognormal": 1 + hp.lognormal("lognormal", 0.0, 0.5),
    "qlognormal": hp.qlognormal("qlognormal", 2.0, 0.5, 2.0),
    "randint1": hp.randint("randint1", 5),
    "randint2": hp.randint("randint2", 3, 9),
    "uniformint": hp.uniformint("uniformint", 1, 20),
    "activation": hp.choice("activation", ["relu", "tanh", "gelu"]),
    "batch": hp.choice("batch", [16, 32, 64]),
    "weighted": hp.pchoice("weighted", [(0.2, "a"), (0.8, "b")]),
    "model": hp.choice(
        "model",
        [
            {"kind": "svm", "C": hp.loguniform("svm_C", -3, 3), "kernel": hp.choice("kernel", ["rbf", "linear"])},
            (
                "tree",
                hp.choice(
                    "tree_kind",
                    [
                        {"depth": hp.randint("tree_depth", 1, 10)},
                        [hp.uniform("forest_frac", 0.1, 1.0), hp.quniform("forest_n", 10, 100, 10)],
                    ],
                ),
            ),
        ],
    ),
}

_names = (f"p{i}" for i in itertools.count())


@st.composite
def leaf(draw):
    """A random hp expression that holds one hyperparameter, with bounds that SigOpt can express."""
    label = next(_names)
    kind = draw(
        st.sampled_from(
            ["uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal", "lognormal",
             "qlognormal", "randint", "randint2", "uniformint", "choice"]
        )
    )
    low = draw(st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 3)))
    width = draw(st.floats(0.5, 100).map(lambda x: round(x, 3)))
    q = draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]))
    sigma = draw(st.floats(0.1, 3.0))
    if kind == "uniform":
        return hp.uniform(label, low, low + width)
    if kind == "quniform":
        return hp.quniform(label, low, low + max(width, 2 * q), q)
    if kind == "loguniform":
        return hp.loguniform(label, low / 20, low / 20 + width / 10)
    if kind == "qloguniform":
        return hp.qloguniform(label, np.log(q), np.log(q) + width / 10 + 0.7, q)
    if kind == "normal":
        return hp.normal(label, low, sigma)
    if kind == "qnormal":
        return hp.qnormal(label, low, max(sigma, q), q)
    if kind == "lognormal":
        return hp.lognormal(label, low / 50, sigma)
    if kind == "qlognormal":
        return hp.qlognormal(label, np.log(20 * q), 0.5, q)
    if kind == "randint":
        return hp.randint(label, draw(st.integers(2, 50)))
    if kind == "randint2":
        start = draw(st.integers(-20, 20))
        return hp.randint(label, start, start + draw(st.integers(2, 30)))
    if kind == "uniformint":
        start = draw(st.integers(-20, 20))
        return hp.uniformint(label, start, start + draw(st.integers(1, 30)))
    mixed = st.lists(st.sampled_from(["a", "b", "c", "d", 1, 2.5]), min_size=2, max_size=4)
    numbers = st.lists(st.sampled_from([1, 2.5, 8, 0.01, -3, 64, 1e-4]), min_size=3, max_size=5, unique=True)
    return hp.choice(label, draw(st.one_of(mixed, numbers)))


def _containers(children):
    return st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda xs: {f"k{i}": x for i, x in enumerate(xs)}),
        st.lists(children, min_size=1, max_size=3),
        st.lists(children, min_size=1, max_size=3).map(tuple),
        st.lists(children, min_size=2, max_size=3).map(lambda options: hp.choice(next(_names), options)),
        children.map(lambda x: 2 * x + 1 if _numeric(x) else x),
    )


def _numeric(expr) -> bool:
    return getattr(expr, "name", None) == "float" or getattr(expr, "name", None) == "int"


spaces = st.recursive(leaf(), _containers, max_leaves=8).map(lambda s: {"root": s})
"""Random spaces: nested dicts, lists, tuples and choices (to any depth) of random hyperparameters."""
