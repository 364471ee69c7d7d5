"""A live web view of a search and of the workers running it: ``sigopt-hyperopt dashboard``.

The pieces, each in its own module:

* :mod:`.source` reads a store read-only: a MongoDB job collection (hyperopt's ``MongoTrials``
  layout plus this project's worker registry and job claims) or a pickled ``Trials`` file, and
  hands over only the documents that may have changed since the last read;
* :mod:`.state` turns them into trial rows with a change sequence number, attributes requeued jobs
  to the workers that lost them, and keeps the database's health (an outage is shown, not fatal);
* :mod:`.axes` says how to draw each hyperparameter (log axis, categories) from the search space;
* :mod:`.importance` estimates which hyperparameters matter;
* :mod:`.app` serves the page and its JSON (Starlette on uvicorn); :mod:`.export` writes the same
  page as one self-contained HTML file.

Needs the optional extra: ``pip install 'sigopt-hyperopt[dashboard]'``.
"""
