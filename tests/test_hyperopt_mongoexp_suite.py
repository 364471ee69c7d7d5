"""hyperopt's own MongoTrials suite passes in full with its import changed to sigopt_hyperopt.mongoexp.

The suite (``hyperopt/tests/integration/test_mongoexp.py`` of the installed hyperopt) is copied at run
time, only its ``hyperopt.mongoexp`` import replaced, and run in a subprocess against FerretDB through
``tests/mongod_shim/mongod`` (see tests/hyperopt_suite.py).  Stock hyperopt 0.3.0 passes 4 of its 12.
"""

from __future__ import annotations

from tests.hyperopt_suite import run_suite


def test_hyperopt_suite_passes_on_the_facade():
    run = run_suite(facade=True)
    assert (run.passed, run.failed, run.errors, run.skipped) == (12, 0, 0, 0), f"{run.summary}\n{run.output[-6000:]}"
