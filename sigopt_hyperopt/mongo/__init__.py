"""The MongoDB path: hyperopt's ``MongoTrials`` job queue on pymongo 4, built to scale.

* :mod:`.address` -- ``mongo://`` URLs (on top of pymongo's URI parser) and connecting.
* :mod:`.outages` -- store operations that ride out database outages.
* :mod:`.clock` -- the database server's clock, for every liveness time.
* :mod:`.jobs` -- :class:`MongoJobs`: the queue, unique-key claims, recovery, the worker registry.
* :mod:`.trials` -- :class:`MongoTrials`: the driver's incremental view of its search.
* :mod:`.lease` -- one driver per search.
* :mod:`.fence` -- every write of a driver conditional on its lease generation (permits and seals).
* :mod:`.attachments` -- GridFS attachments written safely; the reported-evaluation marks.

The worker loop is :mod:`sigopt_hyperopt.mongo.worker`, fmin's loop over a pool :mod:`sigopt_hyperopt.mongo.dispatch`.
"""

from ..errors import DatabaseError, SearchBusyError
from .address import MongoAddress, connect, parse_mongo_url
from .attachments import DurableAttachments, ReportedMarks
from .jobs import CHANGES_COLLECTION, CLAIMS_COLLECTION, QUEUE_COLLECTION, WORKERS_COLLECTION, MongoJobs
from .outages import survives_outages
from .trials import MongoTrials

__all__ = [
    "CHANGES_COLLECTION",
    "CLAIMS_COLLECTION",
    "QUEUE_COLLECTION",
    "WORKERS_COLLECTION",
    "DatabaseError",
    "DurableAttachments",
    "MongoAddress",
    "MongoJobs",
    "MongoTrials",
    "ReportedMarks",
    "SearchBusyError",
    "connect",
    "parse_mongo_url",
    "survives_outages",
]
