"""The suite's synthetic problems: standard test functions, plus mixed, grid, conditional and noisy ones.

Why these: multimodal functions from 2 to 8 dimensions (Branin, Hartmann3/6, Ackley-5, Levy-5,
Rastrigin-3, Styblinski-Tang-8), a log-scaled one (Rosenbrock-4 over log10 of the parameters), and
the kinds of spaces hyperopt users write that plain test functions do not exercise: integer
dimensions, categoricals and bools, numeric choices (``hp.choice`` of numbers, which the translation
makes ordered grids), nested choices, and a noisy objective.  Functions whose optimum sits at the
centre of the standard box (Ackley, Rastrigin) get an asymmetric box, so an initial design that
starts at the centre does not solve them by luck.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .problems import Conditional, Dimension, Problem, branin, hartmann6

_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN3_MIN = -3.86278


def _vector(p: dict[str, Any], prefix: str, d: int) -> np.ndarray:
    return np.array([float(p[f"{prefix}{i}"]) for i in range(d)])


def _hartmann3(x: np.ndarray) -> float:
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1))))


def hartmann3(p: dict[str, Any]) -> float:
    return _hartmann3(_vector(p, "x", 3))


def ackley(x: np.ndarray) -> float:
    return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x**2))) - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + np.e)


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    middle = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
    return float(np.sin(np.pi * w[0]) ** 2 + middle + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def rastrigin(x: np.ndarray) -> float:
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


STYBLINSKI_TANG_MIN_PER_DIMENSION = -39.16616570377142

# -- the grid problems: hp.choice of numbers, listed unsorted as users do -------------------------

_SHUFFLE = np.random.default_rng(20201)
GRID_X = tuple(float(v) for v in _SHUFFLE.permutation(np.linspace(-5, 10, 16)))
GRID_Y = tuple(float(v) for v in _SHUFFLE.permutation(np.linspace(0, 15, 16)))
BATCH_SIZES = (64, 16, 256, 32, 128, 512)
LEARNING_RATES = (1e-2, 1e-4, 1e-1, 1e-3, 3e-3, 3e-4, 3e-2)
LAYERS = (2, 1, 4, 3)


def grid_branin(p: dict[str, Any]) -> float:
    return branin({"x": p["gx"], "y": p["gy"]})


def grid_mlp(p: dict[str, Any]) -> float:
    """A network-training-like response: the best learning rate grows with the batch size."""
    lr, batch = math.log10(p["lr"]), math.log2(p["batch_size"])
    return ((lr + 3 - 0.3 * (batch - 6)) ** 2 + 0.05 * (batch - 7) ** 2 + 0.15 * (p["layers"] - 3) ** 2
            + 2 * (p["dropout"] - 0.25) ** 2 - 0.3 * math.cos(2.5 * lr))


def _grid_mlp_optimum() -> float:  # dropout is separable: 0.25 is best for every grid point
    return min(grid_mlp({"lr": lr, "batch_size": b, "layers": n, "dropout": 0.25})
               for lr, b, n in itertools.product(LEARNING_RATES, BATCH_SIZES, LAYERS))


# -- mixed types ---------------------------------------------------------------------------------

_SCALE = {"a": 0.6, "b": 1.0, "c": 0.8, "d": 1.2}
_OFFSET = {"a": 0.0, "b": 0.3, "c": 0.0, "d": 1.5}


def categorical_hartmann3(p: dict[str, Any]) -> float:
    """Hartmann3 scaled and shifted by a categorical, its box mirrored by a bool."""
    x = _vector(p, "x", 3)
    if p["mirror"]:
        x = 1 - x
    return _SCALE[p["variant"]] * _hartmann3(x) + _OFFSET[p["variant"]]


def conditional(p: dict[str, Any]) -> float:
    """Three branches two choices deep; the best (a scaled Branin) is nearly tied with Hartmann3."""
    if p["family"] == "smooth":
        return hartmann3(p)
    if p["shape"] == "bowl":
        return branin({"x": p["bx"], "y": p["by"]}) / 20 - 3.9
    return 0.1 * (p["k"] - 5) ** 2 + (p["w"] - 0.7) ** 2 - 3.0


def _floats(prefix: str, d: int, low: float, high: float) -> tuple[Dimension, ...]:
    return tuple(Dimension(f"{prefix}{i}", "float", low, high) for i in range(d))


def _on_vector(function, prefix: str, d: int):
    return lambda p: function(_vector(p, prefix, d))


SYNTHETIC: dict[str, Problem] = {problem.name: problem for problem in (
    Problem("branin", (Dimension("x", "float", -5, 10), Dimension("y", "float", 0, 15)), branin, 0.397887,
            description="2-D, three global minima"),
    Problem("hartmann3", _floats("x", 3, 0, 1), hartmann3, HARTMANN3_MIN, description="3-D, four local minima"),
    Problem("hartmann6", _floats("x", 6, 0, 1), hartmann6, -3.32237, description="6-D, six local minima"),
    Problem("ackley5", _floats("x", 5, -15, 30), _on_vector(ackley, "x", 5), 0.0,
            description="5-D, many local minima; box [-15, 30] (off-centre)"),
    Problem("levy5", _floats("x", 5, -10, 10), _on_vector(levy, "x", 5), 0.0, description="5-D, many local minima"),
    Problem("rastrigin3", _floats("x", 3, -3.5, 5.12), _on_vector(rastrigin, "x", 3), 0.0,
            description="3-D, a lattice of local minima; box [-3.5, 5.12] (off-centre)"),
    Problem("rosenbrock4_log", tuple(Dimension(f"u{i}", "logfloat", 1e-2, 1e2) for i in range(4)),
            lambda p: rosenbrock(np.log10(_vector(p, "u", 4))), 0.0,
            description="4-D Rosenbrock of log10(u), u log-uniform on [0.01, 100]: a curved valley on log scales"),
    Problem("styblinski_tang8", _floats("x", 8, -5, 5), _on_vector(styblinski_tang, "x", 8),
            8 * STYBLINSKI_TANG_MIN_PER_DIMENSION, description="8-D, 2^8 local minima"),
    Problem("levy6_int", tuple(Dimension(f"x{i}", "int", -10, 10) for i in range(3)) + _floats("x", 6, -10, 10)[3:],
            _on_vector(levy, "x", 6), 0.0, description="6-D Levy, three integer dimensions (hp.quniform q=1)"),
    Problem("categorical_hartmann3",
            (Dimension("variant", "categorical", options=("a", "b", "c", "d")),
             Dimension("mirror", "categorical", options=(False, True))) + _floats("x", 3, 0, 1),
            categorical_hartmann3, _SCALE["b"] * HARTMANN3_MIN + _OFFSET["b"],
            description="3 continuous dimensions, a 4-way categorical and a bool"),
    Problem("grid_branin", (Dimension("gx", "choice", options=GRID_X), Dimension("gy", "choice", options=GRID_Y)),
            grid_branin, min(branin({"x": x, "y": y}) for x in GRID_X for y in GRID_Y),
            description="Branin on two numeric choices of 16 evenly spaced values each, listed shuffled"),
    Problem("grid_mlp",
            (Dimension("batch_size", "choice", options=BATCH_SIZES), Dimension("lr", "choice", options=LEARNING_RATES),
             Dimension("layers", "choice", options=LAYERS), Dimension("dropout", "float", 0, 0.6)),
            grid_mlp, _grid_mlp_optimum(),
            description="numeric choices of batch size, learning rate and depth (unsorted), and a float"),
    Problem("conditional",
            (Conditional("family", (
                ("smooth", _floats("x", 3, 0, 1)),
                ("shape", (Conditional("shape", (
                    ("bowl", (Dimension("bx", "float", -5, 10), Dimension("by", "float", 0, 15))),
                    ("steps", (Dimension("k", "int", 1, 8), Dimension("w", "float", 0, 1))),
                )),)),
            )),),
            conditional, 0.397887 / 20 - 3.9,
            description="nested hp.choice two deep: Hartmann3, a scaled Branin or an integer bowl"),
    Problem("noisy_hartmann6", _floats("x", 6, 0, 1), hartmann6, -3.32237, noise=0.1,
            description="Hartmann6 observed with Gaussian noise (sd 0.1, ~3 % of its range)"),
)}
