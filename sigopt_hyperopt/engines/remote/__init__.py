"""SigOpt's hosted API or a self-hosted sigopt-server, through the ``sigopt`` client.

:mod:`.engine` is the :class:`~sigopt_hyperopt.engines.remote.engine.RemoteEngine`; :mod:`.connection`
builds the client, :mod:`.retry` decides which failed calls to retry, :mod:`.experiment_match` refuses
to attach to an experiment that does not match the search.
"""
