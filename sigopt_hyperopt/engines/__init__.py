"""The optimizers behind ``sigopt_suggest``: one interface, two ways to reach SigOpt.

- :mod:`.base`: the :class:`~sigopt_hyperopt.engines.base.Engine` interface and its records.
- :mod:`.embedded`: SigOpt's open-source optimizer (libsigopt) in this process, with this package's
  model fitting and acquisition search around it (the default; no account needed).
- :mod:`.remote`: the hosted API or a self-hosted sigopt-server through the ``sigopt`` client.

Nothing here knows about hyperopt's fmin loop; the engine modules import only the space, the store
and the package's errors.
"""
