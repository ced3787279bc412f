"""nnext: small fully-connected neural networks, trained by a C core.

The math of the classic numpy tutorials (Trask's "neural network in 11
lines", Victor Zhou's introduction) at C speed, on NumPy arrays::

    >>> import nnext
    >>> net = nnext.Network([3, 4, 1], bias=False, seed=1)   # Trask's syn0, syn1
    >>> history = net.fit(X, y, epochs=60000, lr=1.0, loss="sse")

Run ``python -m nnext`` to see the tutorials reproduced beside numpy.
"""

try:
    from . import _core  # noqa: F401  (the C extension)
except ImportError as _e:  # pragma: no cover - depends on how nnext was installed
    raise ImportError(
        "nnext's C extension (nnext._core) could not be imported: "
        f"{_e}. If you are running from a source checkout, build it with "
        "`pip install -e .` (or run from another directory after `pip install .`)."
    ) from _e

from .history import History
from .diagnostics import GradientCheck
from .network import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, Network
from .sweep import sweep

__version__ = "0.1.0"
__all__ = ["Network", "History", "GradientCheck", "sweep", "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "INITS", "__version__"]
