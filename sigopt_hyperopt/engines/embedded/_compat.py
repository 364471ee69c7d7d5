"""Keep libsigopt 1.0.0 and sigoptlite 0.1.2 working on numpy 2.

Both were written for numpy 1.x and call ``numpy.product``, an alias of ``numpy.prod`` that numpy 2
removed (sigoptlite's validator of conditional experiments, libsigopt's product of failure models).
Restoring the alias, only when it is missing, is the smallest change that keeps users on the numpy
they already have; it changes nothing for code that does not use the old name.
"""

import numpy as np

if not hasattr(np, "product"):
    np.product = np.prod  # type: ignore[attr-defined]
