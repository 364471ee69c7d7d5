"""sigoptlite's input validation without re-checking SigOpt's schemas on every call.

sigoptlite validates each experiment and observation it builds with libsigopt's ``validate``, which
calls ``jsonschema.validate``; that checks the *schema itself* against JSON Schema's meta-schema
before checking the instance, every time.  The schemas are constants, so that check is pure waste:
profiled on a 40-evaluation Hartmann-6 search it was 15 % of the engine's time (16 ms per
observation).  Here each schema is checked once and its validator kept; every instance is still
validated in full, and the same error (jsonschema's best match) is raised, so libsigopt's messages
are unchanged.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import libsigopt.aux.validate_schema as libsigopt_validation

_validators: dict[int, tuple[Any, Any]] = {}
"""id(schema) -> (schema, its validator); the schema is kept so its id cannot be reused."""


def validate_with_checked_schema(instance: Any, schema: Any) -> None:
    """``jsonschema.validate(instance, schema)``, checking each schema only the first time."""
    entry = _validators.get(id(schema))
    if entry is None or entry[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        entry = (schema, cls(schema))
        _validators[id(schema)] = entry
    error = jsonschema.exceptions.best_match(entry[1].iter_errors(instance))
    if error is not None:
        raise error


libsigopt_validation.validate_against_schema = validate_with_checked_schema
