"""SigOpt's open-source optimizer in the driver's process.

:mod:`.engine` is the :class:`~sigopt_hyperopt.engines.embedded.engine.EmbeddedEngine`; importing it
fetches libsigopt if needed (:mod:`.packages`), so this package's ``__init__`` imports nothing.  The
rest are its ingredients, one a file: :mod:`.model` (the GP's hyperparameters on a schedule),
:mod:`.map_fit`, :mod:`.output_warping`, :mod:`.acquisition`, :mod:`.log_ei`, :mod:`.discrete_search`,
:mod:`.initial_design`, each switched by :mod:`.options`; :mod:`.multimetric` is the model phase of
searches with declared metrics or linear constraints (libsigopt's own multimetric views).
"""
