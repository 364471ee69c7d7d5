"""Does an existing SigOpt experiment fit a hyperopt space?  And if not, how exactly does it differ?

``sigopt_suggest(..., experiment_id=...)`` attaches to an experiment created elsewhere (the SigOpt web
UI, another program).  Suggestions from an experiment with other parameters, bounds or categories
would be translated into wrong trials, so attaching is refused unless the experiment's parameters
match the space's translation, and the refusal lists every difference, one per line.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from ...errors import SearchMismatchError
from ...space import FINGERPRINT_VERSION, TranslatedSpace
from ..base import METRIC_NAME


def check_experiment_matches(space: TranslatedSpace, experiment: Any, metrics: Sequence[Any] = (),
                             linear_constraints: Sequence[Any] = ()) -> None:
    """Raise :class:`SearchMismatchError` with a readable diff when ``experiment`` does not fit ``space``
    (and the declared ``metrics``: the single ``loss`` when none are declared; and the declared
    ``linear_constraints``: a point the search would think allowed may be one SigOpt never suggests)."""
    differences = (experiment_differences(space, experiment) + metric_differences(metrics, experiment)
                   + constraint_differences(linear_constraints, experiment))
    if differences:
        lines = "\n".join(f"  - {d}" for d in differences)
        raise SearchMismatchError(
            f"SigOpt experiment {experiment.id} does not match the search space:\n{lines}\n"
            "Attach to an experiment created for this space, these metrics and these linear constraints, or drop "
            "experiment_id= to create one (a changed declaration needs a new search: a new Trials object or exp_key)."
        )


def experiment_differences(space: TranslatedSpace, experiment: Any) -> list[str]:
    """Every difference between the space's SigOpt parameters and the experiment's, as sentences."""
    ours = {p["name"]: p for p in space.sigopt_parameters}
    theirs = {p.name: _as_dict(p) for p in (experiment.parameters or [])}
    differences = [f"parameter {name!r} is in the space but not in the experiment" for name in sorted(set(ours) - set(theirs))]
    differences += [f"parameter {name!r} is in the experiment but not in the space" for name in sorted(set(theirs) - set(ours))]
    for name in sorted(set(ours) & set(theirs)):
        differences += _parameter_differences(name, ours[name], theirs[name])
    our_conditionals = {c["name"]: sorted(map(str, c["values"])) for c in space.sigopt_conditionals or []}
    their_conditionals = {c.name: sorted(map(str, c.values or [])) for c in (getattr(experiment, "conditionals", None) or [])}
    for name in sorted(set(our_conditionals) | set(their_conditionals)):
        if our_conditionals.get(name) != their_conditionals.get(name):
            differences.append(f"conditional {name!r}: values {_show(our_conditionals.get(name))} in the space, "
                               f"{_show(their_conditionals.get(name))} in the experiment")
    stored = str((getattr(experiment, "metadata", None) or {}).get("space_fingerprint") or "")
    if not differences and stored.startswith(f"{FINGERPRINT_VERSION}-") and stored != space.fingerprint():
        # Same SigOpt form, other hyperopt meaning: e.g. quniform(0, 100, 10) against quniform(0, 1000, 100).
        differences.append("the experiment was created by sigopt-hyperopt for another space with the same SigOpt "
                           "parameters: a quantum q or a distribution changed, so its values would mean other "
                           "hyperopt values")
    return differences


def metric_differences(metrics: Sequence[Any], experiment: Any) -> list[str]:
    """Every difference between the declared metrics (name, objective, strategy, threshold) and the experiment's."""
    ours = {m["name"]: m for m in ([m.as_dict() for m in metrics] or
                                   [{"name": METRIC_NAME, "objective": "minimize", "strategy": "optimize",
                                     "threshold": None}])}
    theirs = {}
    for metric in getattr(experiment, "metrics", None) or []:
        theirs[metric.name] = {"name": metric.name, "objective": getattr(metric, "objective", None) or "maximize",
                               "strategy": getattr(metric, "strategy", None) or "optimize",
                               "threshold": getattr(metric, "threshold", None)}
    differences = [f"metric {name!r} is declared but not in the experiment" for name in sorted(set(ours) - set(theirs))]
    differences += [f"metric {name!r} is in the experiment but not declared" for name in sorted(set(theirs) - set(ours))]
    for name in sorted(set(ours) & set(theirs)):
        for key in ("objective", "strategy"):
            if ours[name][key] != theirs[name][key]:
                differences.append(f"metric {name!r}: {key} {ours[name][key]} declared, {theirs[name][key]} in the experiment")
        a, b = ours[name]["threshold"], theirs[name]["threshold"]
        if (a is None) != (b is None) or (a is not None and not _close([a], [b])):
            differences.append(f"metric {name!r}: threshold {a} declared, {b} in the experiment")
    return differences


def constraint_differences(linear_constraints: Sequence[Any], experiment: Any) -> list[str]:
    """The declared linear constraints missing from the experiment, and the experiment's not declared."""
    ours = [_constraint_key(c.as_dict()) for c in linear_constraints]
    theirs = [_constraint_key(_as_dict(c)) for c in (getattr(experiment, "linear_constraints", None) or [])]
    differences = [f"linear constraint {_show_constraint(c)} is declared but not in the experiment"
                   for c in ours if not any(_same_constraint(c, t) for t in theirs)]
    differences += [f"linear constraint {_show_constraint(c)} is in the experiment but not declared"
                    for c in theirs if not any(_same_constraint(c, o) for o in ours)]
    return differences


def _constraint_key(body: dict[str, Any]) -> tuple[str, float, tuple[tuple[str, float], ...]]:
    terms = tuple(sorted((str(t["name"]), float(t["weight"])) for t in body.get("terms") or []))
    return (str(body.get("type")), float(body.get("threshold")), terms)


def _same_constraint(a: tuple, b: tuple) -> bool:
    return (a[0] == b[0] and [n for n, _ in a[2]] == [n for n, _ in b[2]]
            and _close([a[1], *(w for _, w in a[2])], [b[1], *(w for _, w in b[2])]))


def _show_constraint(key: tuple[str, float, tuple[tuple[str, float], ...]]) -> str:
    kind, threshold, terms = key
    return f"{' + '.join(f'{w:g}*{n}' for n, w in terms)} {'<=' if kind == 'less_than' else '>='} {threshold:g}"


def _parameter_differences(name: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    found = []
    if ours.get("type") != theirs.get("type"):
        found.append(f"parameter {name!r}: type {ours.get('type')} in the space, {theirs.get('type')} in the experiment")
        if ours.get("grid") and theirs.get("type") == "categorical":
            found.append(f"parameter {name!r}: sigopt-hyperopt translates a choice of numbers as an "
                         "ordered grid; an experiment created by an earlier version holds it as categories and "
                         "continues only with the trials it was created with (they record that translation)")
        return found
    our_bounds, their_bounds = ours.get("bounds"), theirs.get("bounds")
    if (our_bounds is None) != (their_bounds is None) or (
        our_bounds is not None and not _close([our_bounds["min"], our_bounds["max"]], [their_bounds["min"], their_bounds["max"]])
    ):
        found.append(f"parameter {name!r}: bounds {_show_bounds(our_bounds)} in the space, "
                     f"{_show_bounds(their_bounds)} in the experiment")
    our_values = sorted(str(c["name"]) for c in ours.get("categorical_values") or [])
    their_values = sorted(str(c["name"]) for c in theirs.get("categorical_values") or [])
    if our_values != their_values:
        found.append(f"parameter {name!r}: categorical values {our_values} in the space, {their_values} in the experiment")
    our_grid, their_grid = sorted(ours.get("grid") or []), sorted(theirs.get("grid") or [])
    if len(our_grid) != len(their_grid) or not _close(our_grid, their_grid):
        found.append(f"parameter {name!r}: grid {our_grid} in the space, {their_grid} in the experiment")
    if (ours.get("transformation") or "none") != (theirs.get("transformation") or "none"):
        found.append(f"parameter {name!r}: transformation {ours.get('transformation') or 'none'} in the space, "
                     f"{theirs.get('transformation') or 'none'} in the experiment")
    our_prior, their_prior = _prior(ours.get("prior")), _prior(theirs.get("prior"))
    if (our_prior is None) != (their_prior is None) or (
        our_prior is not None and (our_prior[0] != their_prior[0] or not _close(our_prior[1:], their_prior[1:]))
    ):
        found.append(f"parameter {name!r}: prior {_show_prior(our_prior)} in the space, "
                     f"{_show_prior(their_prior)} in the experiment")
    our_conditions, their_conditions = _conditions(ours.get("conditions")), _conditions(theirs.get("conditions"))
    if our_conditions != their_conditions:
        found.append(f"parameter {name!r}: active when {_show_conditions(our_conditions)} in the space, "
                     f"{_show_conditions(their_conditions)} in the experiment")
    return found


def _prior(prior: Any) -> tuple[str, float, float] | None:
    if not prior:
        return None
    return (str(prior.get("name")), float(prior.get("mean") or 0.0), float(prior.get("scale") or 0.0))


def _show_prior(prior: tuple[str, float, float] | None) -> str:
    return "none" if prior is None else f"{prior[0]}(mean={prior[1]:g}, scale={prior[2]:g})"


def _conditions(conditions: Any) -> dict[str, list[str]]:
    return {str(name): sorted(map(str, values if isinstance(values, list) else [values]))
            for name, values in (conditions or {}).items()}


def _show_conditions(conditions: dict[str, list[str]]) -> str:
    return "always" if not conditions else ", ".join(f"{k} in {v}" for k, v in sorted(conditions.items()))


def _as_dict(parameter: Any) -> dict[str, Any]:
    """The client's Parameter object in the API's JSON form, the form the space produces."""
    from sigopt.objects import ApiObject

    return ApiObject.as_json(parameter)


def _close(a: Iterable[float], b: Iterable[float]) -> bool:
    return all(math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(a, b, strict=True))


def _show_bounds(bounds: dict[str, Any] | None) -> str:
    return "none" if bounds is None else f"[{bounds['min']:g}, {bounds['max']:g}]"


def _show(values: list[str] | None) -> str:
    return "(none)" if values is None else str(values)
