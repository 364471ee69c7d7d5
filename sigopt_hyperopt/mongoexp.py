"""``hyperopt.mongoexp``'s public API on this package's job queue: the migration is one import line.

    from sigopt_hyperopt.mongoexp import MongoTrials      # was: from hyperopt.mongoexp import MongoTrials

Every public name of ``hyperopt.mongoexp`` is here with hyperopt's signature.  The queue underneath is
:mod:`sigopt_hyperopt.mongo` (unique-key claims, heartbeats, requeue, one driver per search); this
module only re-exports.  The exception classes are hyperopt's own, so ``except
hyperopt.mongoexp.ReserveTimeout`` still catches them.  ``python -m sigopt_hyperopt.mongoexp`` is
``hyperopt-mongo-worker`` (same flags).  docs/distributed.md ("Coming from hyperopt") says what differs.
"""

from __future__ import annotations

from hyperopt.mongoexp import (
    DomainSwapError,
    InvalidMongoTrial,
    MongoCtrl,
    OperationFailure,
    ReserveTimeout,
    Shutdown,
    WaitQuit,
)

from .mongo.hyperopt_connection import (
    as_mongo_str,
    connection_from_string,
    connection_with_tunnel,
    number_of_jobs_in_db,
    parse_url,
    read_pw,
)
from .mongo.hyperopt_worker import MongoWorker, exec_import
from .mongo.jobs import MongoJobs
from .mongo.trials import MongoTrials
from .mongo.worker_main import main, main_worker, main_worker_helper

__all__ = [
    "DomainSwapError",
    "InvalidMongoTrial",
    "MongoCtrl",
    "MongoJobs",
    "MongoTrials",
    "MongoWorker",
    "OperationFailure",
    "ReserveTimeout",
    "Shutdown",
    "WaitQuit",
    "as_mongo_str",
    "connection_from_string",
    "connection_with_tunnel",
    "exec_import",
    "main",
    "main_worker",
    "main_worker_helper",
    "number_of_jobs_in_db",
    "parse_url",
    "read_pw",
]

if __name__ == "__main__":
    main()
