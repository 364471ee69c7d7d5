"""sigoptlite's validation with each schema checked once: instances still validated, same errors."""

from __future__ import annotations

import jsonschema
import pytest

from sigopt_hyperopt.engines.embedded import engine  # noqa: F401  (installs the cache, as the engine does)
from sigopt_hyperopt.engines.embedded.schema_cache import validate_with_checked_schema

SCHEMA = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"], "additionalProperties": False}


def test_valid_instances_pass_and_invalid_ones_raise_jsonschemas_own_error():
    validate_with_checked_schema({"x": 1.5}, SCHEMA)
    validate_with_checked_schema({"x": 2}, SCHEMA)  # the second call uses the kept validator
    for bad in ({}, {"x": "one"}, {"x": 1, "y": 2}):
        with pytest.raises(jsonschema.ValidationError) as ours:
            validate_with_checked_schema(bad, SCHEMA)
        with pytest.raises(jsonschema.ValidationError) as plain:
            jsonschema.validate(bad, SCHEMA)
        assert (ours.value.message, ours.value.validator) == (plain.value.message, plain.value.validator)


def test_a_broken_schema_is_still_refused():
    with pytest.raises(jsonschema.SchemaError):
        validate_with_checked_schema({"x": 1}, {"type": "no-such-type"})


def test_sigoptlite_still_refuses_a_bad_experiment_with_libsigopts_message():
    from sigoptlite.builders import LocalExperimentBuilder

    spec = {"parameters": [{"name": "x", "type": "double", "bounds": {"min": 0, "max": 1}}],
            "metrics": [{"name": "loss", "objective": "minimize"}], "parallel_bandwidth": 1}
    LocalExperimentBuilder(spec)
    spec["metrics"][0]["objective"] = "sideways"
    with pytest.raises(ValueError, match="sideways is not one of the allowed values: maximize, minimize"):
        LocalExperimentBuilder(spec)
