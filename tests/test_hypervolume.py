"""The multimetric benchmark's exact 2-D hypervolume and its problems' known Pareto-optimal points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.hypervolume import hypervolume, non_dominated
from benchmarks.multimetric_problems import MULTIMETRIC


def test_one_point_is_its_rectangle():
    assert hypervolume([(1.0, 2.0)], (3.0, 5.0)) == pytest.approx(2.0 * 3.0)


def test_staircase_by_hand():
    # (1,3), (2,2), (3,1) against (4,4): strips 1*(4-3) + 1*(4-2) + 1*(4-1) = 1 + 2 + 3.
    assert hypervolume([(3.0, 1.0), (1.0, 3.0), (2.0, 2.0)], (4.0, 4.0)) == pytest.approx(6.0)


def test_dominated_duplicate_and_outside_points_add_nothing():
    front = [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]
    extra = [(2.5, 2.5), (2.0, 2.0), (3.0, 3.0), (5.0, 0.5), (0.5, 4.5), (float("nan"), 0.0)]
    assert hypervolume(front + extra, (4.0, 4.0)) == pytest.approx(6.0)


def test_points_on_the_reference_boundary_add_nothing():
    assert hypervolume([(4.0, 1.0), (1.0, 4.0)], (4.0, 4.0)) == 0.0
    assert hypervolume([], (1.0, 1.0)) == 0.0


def test_equal_first_objective_keeps_the_better_second():
    # (1,2) and (1,1): only (1,1) counts; with (2,0.5): 1*(3-1) + 1*(3-0.5).
    assert hypervolume([(1.0, 2.0), (1.0, 1.0), (2.0, 0.5)], (3.0, 3.0)) == pytest.approx(2.0 + 2.5)


def test_non_dominated_sorted_by_first_objective():
    front = non_dominated([(3.0, 1.0), (2.5, 2.5), (1.0, 3.0), (2.0, 2.0), (2.0, 2.0)])
    assert front.tolist() == [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]


def test_against_a_brute_force_grid_count():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 1, size=(12, 2))
    grid = (np.arange(400) + 0.5) / 400
    xs, ys = np.meshgrid(grid, grid)
    dominated = np.zeros_like(xs, dtype=bool)
    for x, y in points:
        dominated |= (xs >= x) & (ys >= y)
    assert hypervolume(points, (1.0, 1.0)) == pytest.approx(dominated.mean(), abs=5e-3)


@pytest.mark.parametrize("name, front", [
    ("zdt1", lambda f1: 1 - np.sqrt(f1)),
    ("zdt2", lambda f1: 1 - f1**2),
    ("zdt3", lambda f1: 1 - np.sqrt(f1) - f1 * np.sin(10 * math.pi * f1)),
])
def test_zdt_pareto_points_lie_on_the_analytic_front(name, front):
    problem = MULTIMETRIC[name]
    for point in problem.pareto_set(np.linspace(0, 1, 11)):
        values = problem.evaluate(point)
        assert values["f1"] == pytest.approx(point["x0"])
        assert values["f2"] == pytest.approx(front(values["f1"]))


def test_dtlz2_pareto_points_lie_on_the_unit_circle():
    problem = MULTIMETRIC["dtlz2"]
    for point in problem.pareto_set(np.linspace(0, 1, 11)):
        values = problem.evaluate(point)
        assert values["f1"] ** 2 + values["f2"] ** 2 == pytest.approx(1.0)
    assert problem.evaluate({"x0": 0.0, "x1": 0.5, "x2": 0.5, "x3": 0.5}) == pytest.approx({"f1": 1.0, "f2": 0.0})


def test_binh_korn_pareto_points_are_feasible_and_on_the_front():
    problem = MULTIMETRIC["binh_korn"]
    for point in problem.pareto_set(np.linspace(0, 1, 21)):
        values = problem.evaluate(point)
        assert problem.feasible(values)
        x, y = point["x"], point["y"]
        assert x == pytest.approx(y) or y == pytest.approx(3.0)
    assert problem.evaluate({"x": 0.0, "y": 0.0}) == pytest.approx({"f1": 0.0, "f2": 50.0, "g1": 25.0, "g2": 73.0})
    assert problem.evaluate({"x": 5.0, "y": 3.0})["f1"] == pytest.approx(136.0)
    assert problem.evaluate({"x": 5.0, "y": 3.0})["f2"] == pytest.approx(4.0)
    # (x, y) = (5, 0): g1 = 0 <= 25 but g2 = 9 + 9 = 18; (8, 0) would be outside the box. An infeasible
    # point inside the box: x = 0, y = 3 has g1 = 25 + 9 = 34 > 25.
    assert not problem.feasible(problem.evaluate({"x": 0.0, "y": 3.0}))


@pytest.mark.parametrize("name, exact", [
    ("zdt1", 1.1 * 1.1 - 1 / 3),        # the area under the front, 1 - sqrt(f1), is 1/3
    ("zdt2", 1.1 * 1.1 - 2 / 3),        # under 1 - f1^2: 2/3
    ("dtlz2", 1.1 * 1.1 - math.pi / 4),  # under the quarter circle: pi/4
])
def test_true_front_hypervolume_matches_the_analytic_area(name, exact):
    assert MULTIMETRIC[name].front_hypervolume() == pytest.approx(exact, abs=2e-4)


def test_maximized_metric_is_negated_for_the_hypervolume():
    problem = MULTIMETRIC["forest"]
    assert problem.objectives({"accuracy": 0.95, "log10_nodes": 2.0}) == (-0.95, 2.0)
    # one point: (-0.85 - -0.95) * (3.7 - 2.0)
    assert problem.hypervolume([{"accuracy": 0.95, "log10_nodes": 2.0}]) == pytest.approx(0.1 * 1.7)


def test_infeasible_evaluations_add_no_hypervolume():
    problem = MULTIMETRIC["binh_korn"]
    infeasible = {"f1": 1.0, "f2": 1.0, "g1": 30.0, "g2": 10.0}
    assert problem.hypervolume([infeasible]) == 0.0
    feasible = dict(infeasible, g1=20.0)
    assert problem.hypervolume([feasible]) == pytest.approx(139.0 * 49.0)
