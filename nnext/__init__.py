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

from . import _checks
from .history import History


def set_num_threads(n: "int | None" = None) -> None:
    """Threads nnext uses for large matrix products (about 2 MFLOP and more; small
    networks always run on one thread).  ``None`` or 0 restores the default: the
    ``NNEXT_NUM_THREADS`` environment variable, else the number of CPUs."""
    if n is None:
        n = 0
    n = _checks.integer(n, "n (threads)", 0, _core.MAX_THREADS)
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads nnext uses for large matrix products."""
    return _core.get_num_threads()
from .diagnostics import GradientCheck
from .network import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, Network
from .sweep import sweep
from . import datasets  # noqa: E402  (nnext.datasets: IDX files, MNIST, Fashion-MNIST)

__version__ = "0.1.0"
__all__ = ["Network", "History", "GradientCheck", "sweep", "set_num_threads", "get_num_threads", "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "INITS", "__version__"]
