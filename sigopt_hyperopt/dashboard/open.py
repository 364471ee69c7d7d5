"""Open what the command line names: a MongoDB store or a pickled Trials file, and the space."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..mongo import parse_mongo_url
from .source import MongoSource, PickleSource, Source
from .state import DashboardState


def require_extra() -> None:
    """Fail with what to install when the optional web dependencies are missing."""
    missing = [name for name in ("starlette", "uvicorn", "plotly") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"The dashboard needs {', '.join(missing)}: pip install 'sigopt-hyperopt[dashboard]'"
        )


def load_space(reference: str) -> Any:
    """``package.module:attribute`` -> the hyperopt space it names (the module is imported)."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"--space {reference!r}: expected module:attribute, e.g. mysearch:space")
    if os.getcwd() not in sys.path and "" not in sys.path:
        # `python -m` puts the current folder on the path, the installed command does not; a search
        # script is usually run from the folder it lives in.  Appended: it never shadows a package.
        sys.path.append(os.getcwd())
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"--space {reference!r} cannot be loaded ({error}); run the "
                                 "command in the folder that holds the module, or put that folder on PYTHONPATH") from None
    return value


def open_source(trials_file: str | None, mongo: str | None, exp_key: str | None) -> Source:
    """The store to read: exactly one of a Trials file and a MongoDB address."""
    if (trials_file is None) == (mongo is None):
        raise ConfigurationError("Give either a pickled Trials file or --mongo host:port/db (not both).")
    if mongo is not None:
        return MongoSource(parse_mongo_url(mongo), exp_key=exp_key)
    path = Path(trials_file)
    if not path.is_file():
        raise ConfigurationError(f"No Trials file at {path}: give the file fmin's trials_save_file wrote, or pickle.dump(trials).")
    return PickleSource(path, exp_key=exp_key)


def open_state(trials_file: str | None, mongo: str | None, exp_key: str | None = None, space: str | None = None,
               max_evals: int | None = None) -> DashboardState:
    """A dashboard state over the named store, read once (so a wrong address fails here, at once)."""
    state = DashboardState(open_source(trials_file, mongo, exp_key),
                           space=load_space(space) if space else None, max_evals=max_evals)
    if not state.poll():
        raise ConfigurationError(f"Cannot read {state.source.description}: {state.health.message}")
    return state


def nothing_to_show(state: DashboardState) -> str | None:
    """Why the store, as the command line narrowed it, holds no trial to show; None when it holds some."""
    if state.experiments():
        return None
    exp_key = getattr(state.source, "exp_key", None)
    if exp_key is None:
        return f"{state.source.description} holds no trials yet"
    held = state.source.exp_keys()
    where = state.source.description.replace(f" exp_key={exp_key}", "")
    if not held:
        return f"{where} holds no trials (none with exp_key {exp_key!r}, none at all)"
    return (f"{where} holds no trials with exp_key {exp_key!r}; its exp_keys are {', '.join(map(repr, held))} "
            "(give one of them with --exp-key, or leave --exp-key out to see all)")
