"""The space translator: hp expressions -> SigOpt parameters and conditionals, and values back."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hyperopt import hp, space_eval

from sigopt_hyperopt import UnsupportedSpaceError, translate
from sigopt_hyperopt.engines.embedded.engine import EmbeddedEngine
from sigopt_hyperopt.space import MAX_GRID_SIZE, MIN_ORDERED_OPTIONS, NORMAL_BOUND_SIGMAS

from .hyperopt_support import assert_points_in_support
from .spaces import EVERY_KIND, spaces


def by_name(translated):
    return {p["name"]: p for p in translated.sigopt_parameters}


def test_every_distribution_maps_to_the_documented_sigopt_parameter():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = by_name(translate(EVERY_KIND))

    assert params["uniform"] == {"name": "uniform", "type": "double", "bounds": {"min": -2.0, "max": 3.0}}
    assert params["quniform"]["type"] == "int" and params["quniform"]["bounds"] == {"min": 1, "max": 20}
    assert params["loguniform"]["transformation"] == "log"
    assert params["loguniform"]["bounds"]["min"] == pytest.approx(1e-4)
    assert params["qloguniform"]["grid"][:3] == [1.0, 2.0, 3.0] and params["qloguniform"]["grid"][-1] == 2000.0
    assert params["qloguniform"]["transformation"] == "log"
    assert params["normal"]["prior"] == {"name": "normal", "mean": 1.0, "scale": 2.0}
    assert params["normal"]["bounds"] == {"min": 1.0 - NORMAL_BOUND_SIGMAS * 2, "max": 1.0 + NORMAL_BOUND_SIGMAS * 2}
    assert params["qnormal"] == {"name": "qnormal", "type": "int", "bounds": {"min": -12, "max": 12}}
    assert params["lognormal"]["transformation"] == "log" and "prior" not in params["lognormal"]
    assert params["qlognormal"]["grid"][0] == 2.0 and all(v % 2 == 0 for v in params["qlognormal"]["grid"])
    assert params["randint1"]["bounds"] == {"min": 0, "max": 4}
    assert params["randint2"]["bounds"] == {"min": 3, "max": 8}
    assert params["uniformint"]["bounds"] == {"min": 1, "max": 20}
    assert [c["name"] for c in params["activation"]["categorical_values"]] == ["relu", "tanh", "gelu"]
    assert params["batch"] == {"name": "batch", "type": "double", "grid": [16.0, 32.0, 64.0], "transformation": "log"}


def test_nested_choices_become_conditionals_conditioned_on_every_enclosing_branch():
    translated = translate(EVERY_KIND)
    assert {c["name"]: c["values"] for c in translated.sigopt_conditionals} == {
        "model": ["0", "1"],
        "tree_kind": ["0", "1"],
    }
    params = by_name(translated)
    assert params["svm_C"]["conditions"] == {"model": ["0"]}
    assert params["kernel"]["conditions"] == {"model": ["0"]}
    assert params["tree_depth"]["conditions"] == {"model": ["1"], "tree_kind": ["0"]}
    assert params["forest_n"]["conditions"] == {"model": ["1"], "tree_kind": ["1"]}
    assert "conditions" not in params["uniform"]


def test_a_choice_with_an_empty_branch_stays_categorical_because_sigopt_needs_a_parameter_per_branch():
    space = hp.choice("clf", [{"kind": "svm", "C": hp.loguniform("C", -3, 3)}, {"kind": "naive_bayes"}])
    translated = translate(space)
    assert translated.sigopt_conditionals == []
    assert by_name(translated)["clf"]["type"] == "categorical"
    assert translated.to_hyperopt({"clf": "1", "C": 1.0}) == {"clf": 1}
    assert translated.to_hyperopt({"clf": "0", "C": 1.0}) == {"clf": 0, "C": 1.0}


def test_pchoice_warns_and_keeps_its_options():
    with pytest.warns(UserWarning, match="probabilities"):
        translated = translate({"w": hp.pchoice("w", [(0.1, "x"), (0.9, "y")])})
    assert [c["name"] for c in by_name(translated)["w"]["categorical_values"]] == ["x", "y"]


def test_single_valued_labels_are_fixed_and_never_sent_to_sigopt():
    translated = translate({"one": hp.choice("one", ["only"]), "x": hp.uniform("x", 0, 1), "r": hp.randint("r", 1)})
    assert list(by_name(translated)) == ["x"]
    assert translated.to_hyperopt({"x": 0.5}) == {"one": 0, "r": 0, "x": 0.5}


@pytest.mark.parametrize(
    "space, label, reason",
    [
        ({"a": hp.uniform("a", 0, 1), "b": hp.uniform("b", 0, hp.uniform("hi", 1, 2))}, "b", "depends on another"),
        ({"q": hp.quniform("q", 0.1, 0.4, 0.5)}, "q", "no multiple of q"),
        ({"n": hp.normal("n", 0, 0)}, "n", "sigma must be positive"),
        ({"x" * 101: hp.uniform("x" * 101, 0, 1)}, "x" * 101, "1 to 100 characters"),
        ({"e": hp.lognormal("e", 500, 100)}, "e", "outside the range"),
    ],
)
def test_what_sigopt_cannot_express_is_refused_with_the_label_named(space, label, reason):
    with pytest.raises(UnsupportedSpaceError, match=reason) as raised:
        translate(space)
    assert raised.value.label == label
    assert repr(label) in str(raised.value)


def test_a_space_without_hyperparameters_is_refused():
    with pytest.raises(UnsupportedSpaceError, match="no hyperparameters"):
        translate({"a": 1, "b": [2, 3]})


def test_long_quantized_log_ranges_are_log_thinned_to_the_grid_limit():
    params = by_name(translate({"n": hp.qloguniform("n", 0, np.log(1e6), 1)}))
    grid = params["n"]["grid"]
    assert len(grid) <= MAX_GRID_SIZE
    assert grid[:5] == [1.0, 2.0, 3.0, 4.0, 5.0] and grid[-1] == 1e6
    assert all(float(v).is_integer() for v in grid)


def test_values_from_other_sources_are_moved_to_the_nearest_value_sigopt_accepts():
    translated = translate(EVERY_KIND)
    vals = {"uniform": 99.0, "quniform": 3.4, "qloguniform": 12.4, "normal": -50.0, "model": 1, "tree_kind": 1,
            "forest_frac": 0.5, "forest_n": 57.0, "activation": 2, "batch": 0, "weighted": 1, "qnormal": 2.0,
            "randint1": 3, "randint2": 4, "uniformint": 7.0, "lognormal": 1.0, "qlognormal": 8.0, "loguniform": 0.01}
    assignments = translated.to_sigopt(vals)
    assert assignments["uniform"] == 3.0
    assert assignments["quniform"] == 7  # 7 * 0.5 = 3.5, the nearest multiple
    assert assignments["qloguniform"] == 12.0
    assert assignments["normal"] == 1.0 - NORMAL_BOUND_SIGMAS * 2
    assert assignments["model"] == "1" and assignments["tree_kind"] == "1" and assignments["activation"] == "gelu"
    assert assignments["forest_n"] == 6  # 60 / 10
    assert "svm_C" not in assignments and "tree_depth" not in assignments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces)
def test_random_spaces_translate_and_sigopt_points_are_valid_hyperopt_trials(space):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        translated = translate(space)
    engine = EmbeddedEngine.for_space(translated)
    suggestions = engine.suggest(8, [], seed=tid_seed(space))
    assert_points_in_support(space, translated, [s.assignments for s in suggestions], first_tid=0)


def tid_seed(space) -> int:
    return len(repr(space)) % 1000


def test_fingerprints_tell_quanta_and_distributions_apart():
    spaces = [{"x": hp.quniform("x", 0, 100, 10)}, {"x": hp.quniform("x", 0, 1000, 100)}, {"x": hp.randint("x", 0, 11)}]
    translated = [translate(space) for space in spaces]
    assert len({t.fingerprint() for t in translated}) == 3
    assert len({t.legacy_fingerprint() for t in translated}) == 1  # why the old digest was not enough
    assert translate(spaces[0]).fingerprint() == translated[0].fingerprint()


def deep_shared_space():
    """``x`` lives directly under ``c`` = 0 and inside ``b``, which is used under ``a`` = 0 and ``c`` = 0."""
    x = hp.uniform("x", 0, 1)
    b = hp.choice("b", [{"x": x}, {"y": hp.uniform("y", 0, 1)}])
    c = hp.choice("c", [{"x": x, "b": b}, {"z": hp.uniform("z", 0, 1)}])
    return {"a": hp.choice("a", [{"b": b}, {"c": c}])}


def test_a_label_shared_between_a_choice_and_a_deeper_choice_is_active_wherever_hyperopt_uses_it():
    space = deep_shared_space()
    translated = translate(space)
    labels = translated.labels
    assert labels.index("b") < labels.index("x")  # a choice before what depends on it
    choices = [p for p in translated.parameters if p.is_choice]
    for combination in itertools.product(*(p.categories for p in choices)):
        assignments = {**dict(zip((p.label for p in choices), combination)), "x": 0.5, "y": 0.5, "z": 0.5}
        values = translated.to_hyperopt(assignments)
        assert space_eval(space, values) is not None  # failed with x dropped for a=0, b=0
    assert translated.to_hyperopt({"a": "0", "b": "0", "c": "1", "x": 0.5, "y": 0.5, "z": 0.5}) == {"a": 0, "b": 0, "x": 0.5}


def test_the_pchoice_warning_points_at_the_callers_line():
    with pytest.warns(UserWarning, match="probabilities") as caught:
        translate({"w": hp.pchoice("w", [(0.1, "x"), (0.9, "y")])})
    assert caught[0].filename == __file__


@pytest.mark.parametrize("options, log", [
    ([16, 32, 64, 128], True),
    ([1e-2, 1e-4, 1e-3], True),  # not sorted: the grid is, the indices stay hyperopt's
    ([0.1, 0.2, 0.5, 1.0], True),
    ([1, 2, 3, 4], False),
    ([0.1, 0.5, 0.9], False),
    ([-1, 0, 2.5], False),  # not all positive: no log scale
    (np.array([3, 1, 2]).tolist(), False),
])
def test_numeric_choices_become_ordered_grids_with_a_log_scale_where_the_options_are_geometric(options, log):
    translated = translate({"n": hp.choice("n", options)})
    parameter = by_name(translated)["n"]
    assert parameter["type"] == "double" and parameter["grid"] == sorted(float(o) for o in options)
    assert (parameter.get("transformation") == "log") is log
    for index, option in enumerate(options):  # SigOpt's number <-> the option's original position
        assert translated.to_hyperopt({"n": float(option)}) == {"n": index}
        assert translated.to_sigopt({"n": [index]}) == {"n": float(option)}


@pytest.mark.parametrize("options", [
    [16, 32][:MIN_ORDERED_OPTIONS - 1],  # too few to carry an order
    [1, 2, 2, 3],  # two indices for one number
    [1, "2", 3],
    [True, False, 2],
    [0.5, float("nan"), 1.0],
])
def test_other_constant_choices_stay_categorical(options):
    parameter = by_name(translate({"n": hp.choice("n", options)}))["n"]
    assert parameter["type"] == "categorical"


def test_a_numeric_choice_inside_a_branch_keeps_its_conditions_and_the_old_translation_stays_available():
    space = hp.choice("model", [{"units": hp.choice("units", [256, 64, 128]), "a": hp.uniform("a", 0, 1)},
                                {"c": hp.uniform("c", 0, 1)}])
    translated = translate(space)
    assert by_name(translated)["units"]["conditions"] == {"model": ["0"]}
    assert by_name(translated)["units"]["grid"] == [64.0, 128.0, 256.0]
    assert translated.to_hyperopt({"model": "0", "units": 128.0, "a": 0.5}) == {"model": 0, "units": 2, "a": 0.5}
    assert translated.to_hyperopt({"model": "1", "c": 0.5}) == {"model": 1, "c": 0.5}
    earlier = translate(space, ordered_choices=False)
    assert by_name(earlier)["units"]["type"] == "categorical"
    assert earlier.fingerprint() != translated.fingerprint()


def test_the_earlier_translation_has_the_digest_earlier_versions_stored():
    """Golden digests from the release before ordered grids (its translate of this space), so a store
    written by it is recognised and continued; and spaces without numeric choices keep their digests."""
    space = {"batch": hp.choice("batch", [16, 32, 64]), "x": hp.uniform("x", 0, 1)}
    assert translate(space, ordered_choices=False).fingerprint() == "v2-dc30f416a9a26c04"
    assert translate({"x": hp.uniform("x", 0, 1)}).fingerprint() == "v2-19adfdafcca4a1b2"


def test_the_embedded_engine_suggests_only_grid_values_for_a_numeric_choice():
    space = {"n": hp.choice("n", [64, 16, 128, 32]), "lr": hp.choice("lr", [1e-2, 1e-4, 1e-3])}
    translated = translate(space)
    suggestions = EmbeddedEngine.for_space(translated).suggest(12, [], seed=3)
    for suggestion in suggestions:
        assert suggestion.assignments["n"] in (16.0, 32.0, 64.0, 128.0)
        assert suggestion.assignments["lr"] in (1e-2, 1e-4, 1e-3)
    assert_points_in_support(space, translated, [s.assignments for s in suggestions], first_tid=0)


def test_attaching_to_an_experiment_made_when_numeric_choices_were_categories_says_why_it_differs():
    from sigopt.objects import Experiment

    from sigopt_hyperopt.engines.remote.experiment_match import experiment_differences

    space = {"batch": hp.choice("batch", [16, 32, 64]), "x": hp.uniform("x", 0, 1)}
    earlier = translate(space, ordered_choices=False)
    experiment = Experiment({"id": "7", "parameters": earlier.sigopt_parameters, "conditionals": []})
    differences = experiment_differences(translate(space), experiment)
    assert any("type double in the space, categorical in the experiment" in d for d in differences)
    assert any("earlier version holds it as categories" in d for d in differences)
    assert experiment_differences(earlier, experiment) == []
