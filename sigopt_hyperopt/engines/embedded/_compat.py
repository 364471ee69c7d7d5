"""Keep libsigopt 1.0.0 and sigoptlite 0.1.2 working on numpy 2.

Both were written for numpy 1.x and call ``numpy.product``, an alias of ``numpy.prod`` that numpy 2
removed (sigoptlite's validator of conditional experiments, libsigopt's product of failure models).
Restoring the alias, only when it is missing, is the smallest change that keeps users on the numpy
they already have; it changes nothing for code that does not use the old name.
"""

import numpy as np

if not hasattr(np, "product"):
    np.product = np.prod  # type: ignore[attr-defined]


def _halton_on_current_qmcpy() -> None:
    """libsigopt's Halton sampler on qmcpy 2, for the multimetric phases' convex-combination weights.

    libsigopt calls ``qmcpy.Halton(generalize=True, randomize=True, seed=seed)``, arguments qmcpy 2
    removed (the call raises ``TypeError``), and with ``seed=None`` qmcpy would draw from its own
    generator.  The replacement keeps libsigopt's sampler around it (``unit_cube_sampler_transform_decorator``)
    and takes an unset seed from numpy's global generator, which the engine seeds for each call, so
    the weights stay a function of the call's seed.  Only ``libsigopt.compute.misc.multimetric``'s
    name is rebound: nothing on the single-metric path changes.
    """
    import inspect

    import qmcpy
    from libsigopt.aux import samplers
    from libsigopt.compute.misc import multimetric

    if "generalize" in inspect.signature(qmcpy.Halton.__init__).parameters:
        return

    @samplers.unit_cube_sampler_transform_decorator
    def halton_points(num_points, dimension, skip, seed):
        if seed is None:
            seed = int(np.random.randint(2**31 - 1))
        halton = qmcpy.Halton(dimension=dimension, randomize="LMS DP", seed=seed, warn=False)
        return halton.gen_samples(n_min=skip, n_max=skip + num_points, warn=False)

    multimetric.generate_halton_points = halton_points


_halton_on_current_qmcpy()
