"""The `Network` class: construction, inference and training over the C core
(nnext._core).  Argument checks live in `_checks`, files in `_files`, the
gradient check and summary in `diagnostics`."""

from __future__ import annotations

import inspect
import math
import os
import threading
import time
import warnings
import weakref
from contextlib import nullcontext
from typing import (IO, TYPE_CHECKING, Any, Callable, Dict, List, NoReturn, Optional, Sequence,
                    Tuple, Union)

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _checks, _core, _files
from ._checks import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
from .history import History

if TYPE_CHECKING:
    from .diagnostics import GradientCheck

#: What a seed may be: None, an int, or a numpy generator.
Seed = Union[None, int, np.random.RandomState, np.random.Generator]
#: An activation name, or a (name, parameter) pair such as ("leaky_relu", 0.1).
ActivationSpec = Union[str, Tuple[str, float]]
#: One activation for every layer, or one per layer.
Activation = Union[ActivationSpec, Sequence[ActivationSpec]]

__all__ = ["Network", "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "INITS"]

# fit's status codes from the core (nnext_core.h's nn_status)
_OK, _NONFINITE = 0, 3
# A fit call of at least this many epochs that leaves a classifier no better
# than a constant output earns the hint of Network._hint_if_stuck.
_STUCK_EPOCHS = 100

# The most epochs one fit takes: its loss history (8 bytes an epoch) must be an
# array numpy can address; more is refused as an argument, not left to numpy.
_MAX_EPOCHS = np.iinfo(np.intp).max // 8

# Every live network, so that a forked child gets fresh locks: a lock held by
# a parent thread at fork() time would be held forever in the child.
_ALL = weakref.WeakSet()


def _after_fork_in_child():
    for net in list(_ALL):
        net._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ------------------------------------------------------------- initialisation

def _generator(seed):
    """seed -> a RandomState or Generator (an int or None gives a RandomState, as Trask's np.random.seed)."""
    seed = _checks.check_seed(seed)
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    return np.random.RandomState(seed)


def _draw(rng, init, n_in, n_out):
    """One weight matrix (n_in, n_out) in float64 from rng, by the named scheme."""
    shape = (n_in, n_out)
    legacy = isinstance(rng, np.random.RandomState)
    uniform = rng.random_sample if legacy else rng.random
    if init == "uniform":  # Trask: 2*np.random.random((n_in, n_out)) - 1
        return 2 * uniform(shape) - 1
    if init == "normal":  # Zhou: np.random.normal()
        return rng.standard_normal(shape)
    if init == "xavier":  # Glorot uniform
        limit = np.sqrt(6.0 / (n_in + n_out))
        return (2 * uniform(shape) - 1) * limit
    return rng.standard_normal(shape) * np.sqrt(2.0 / n_in)  # he


def _shuffle_state(seed):
    """A 64-bit state for the core's shuffling generator."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, np.random.RandomState):
        return int(seed.randint(0, 2**63, dtype=np.int64))
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])


# ------------------------------------------------------------------- Network

class Network:
    """A fully-connected neural network whose forward pass, backpropagation and
    training run in C.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including the input, e.g. ``[3, 4, 1]``.
    activation : str, (str, number) or a list of them
        One activation for every layer, or one per weight layer: ``"sigmoid"``,
        ``"tanh"``, ``"relu"``, ``"leaky_relu"`` (x > 0 ? x : slope x, slope
        0.01), ``"elu"`` (x > 0 ? x : alpha (exp(x) - 1), alpha 1),
        ``"linear"``, ``"softmax"`` (output layer only), ``"maxout"`` (hidden
        layers only, k = 2 pieces).  A ``(name, parameter)`` pair sets the
        parameter: ``("leaky_relu", slope)`` with 0 <= slope <= 1,
        ``("elu", alpha)`` with alpha > 0, ``("maxout", k)`` with an int
        k >= 1.  A maxout layer of m units and k pieces has weights
        ``(n_in, m*k)`` and biases ``(m*k,)``; unit j is the largest of
        columns ``j*k .. j*k+k-1`` (the first of them on ties, which alone
        receives the gradient).  `activation_params` reports the parameters.
    bias : bool
        ``False`` gives Trask's bias-free layers.  Biases start at zero.
    dtype : "float64" or "float32"
        Type of the weights and of all arithmetic.
    init : "uniform", "normal", "xavier" or "he"
        How each weight matrix is drawn, in layer order: ``"uniform"`` is
        ``2*rs.random_sample((n_in, n_out)) - 1`` (Trask), ``"normal"`` is
        N(0, 1) (Zhou), ``"xavier"`` is uniform in +-sqrt(6/(n_in+n_out)),
        ``"he"`` is N(0, 2/n_in).
    seed : None, int, numpy RandomState or Generator
        An int seeds ``np.random.RandomState(seed)``, so
        ``Network([3, 4, 1], bias=False, seed=1)`` starts from exactly Trask's
        ``syn0`` and ``syn1``.  ``None`` draws fresh randomness.

    Layer ``l`` computes ``a[l+1] = act(a[l] @ weights[l] + biases[l])``, with
    ``weights[l]`` of shape ``(sizes[l], sizes[l+1])`` (``(sizes[l],
    sizes[l+1]*k)`` for a maxout layer of k pieces).

    Recommended settings
    --------------------
    The defaults are the tutorials' (sigmoid layers, weights U(-1, 1), and in
    `fit` ``loss="mse"``, full-batch SGD, ``lr=0.1``), so that Trask's and
    Zhou's code runs unchanged; they learn XOR, and little beyond it.  For
    real data, standardise X's columns (``(X - X.mean(0)) / X.std(0)``) and
    start from these.

    Classification into k classes: ReLU hidden layers, a softmax output with
    ``loss="cross_entropy"`` (y: integer labels 0..k-1 of shape ``(n,)``, or
    one-hot ``(n, k)``), He initialisation, Adam, shuffled mini-batches:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 4))
    >>> labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)  # 3 classes: 0, 1, 2
    >>> clf = Network([4, 32, 3], activation=["relu", "softmax"], init="he", seed=0)
    >>> history = clf.fit(X, labels, epochs=50, lr=0.001, loss="cross_entropy",
    ...                   optimizer="adam", batch_size=32, shuffle=True, seed=0)
    >>> probabilities = clf.predict(X)  # (600, 3): one row per sample, summing to 1
    >>> accuracy = (probabilities.argmax(axis=1) == labels).mean()
    >>> bool(accuracy > 0.9)
    True

    Regression: ReLU hidden layers (or tanh, with ``init="xavier"``), a
    linear (identity) output with ``loss="mse"``, He initialisation, Adam:

    >>> target = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    >>> reg = Network([4, 64, 64, 1], activation=["relu", "relu", "linear"], init="he", seed=0)
    >>> history = reg.fit(X, target, epochs=200, lr=0.001, loss="mse",
    ...                   optimizer="adam", batch_size=32, shuffle=True, seed=0)
    >>> bool(history.loss[-1] < 0.05 * target.var())
    True

    ``nnext.sklearn.MLPClassifier`` and ``MLPRegressor`` (scikit-learn's
    interface) start from similar settings and take labels of any type.

    Examples
    --------
    >>> X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    >>> y = [[0], [1], [1], [0]]
    >>> net = Network([3, 4, 1], bias=False, seed=1)
    >>> history = net.fit(X, y, epochs=60000, lr=1.0, loss="sse")
    >>> net.predict(X).round(2).ravel().tolist()
    [0.0, 1.0, 1.0, 0.0]
    """

    @_checks.signature_without_unexpected
    def __init__(self, sizes: Sequence[int], activation: Activation = "sigmoid", bias: bool = True,
                 dtype: DTypeLike = "float64", init: str = "uniform", seed: Seed = None,
                 **unexpected: NoReturn) -> None:
        if unexpected:  # (NoReturn: type checkers refuse any keyword that lands here)
            raise _keyword_error("Network()", unexpected)
        sizes = _checks.check_sizes(sizes)
        names, act_params = _checks.check_activations(activation, len(sizes) - 1)
        bias = _checks.boolean(bias, "bias")
        dtype = _checks.check_dtype(dtype)
        _checks.choice(init, INITS, "init")
        seed = _checks.check_seed(seed)
        self._build(sizes, names, act_params, bias, dtype)
        if type(seed) is int:  # RandomState(seed)'s draws, made by the core without building one
            self._engine.init_weights(seed, INITS.index(init))
            return
        rng = _generator(seed)
        for l, w in enumerate(self._weights):
            w[...] = _draw(rng, init, sizes[l], w.shape[1])

    def _build(self, sizes, names, act_params, bias, dtype):
        """Bind a C engine (which owns the parameter block, zeros) to this network."""
        self._sizes = sizes
        self._activations = names
        self._act_params = act_params
        self._cols = [_checks.layer_cols(a, p, m) for a, p, m in zip(names, act_params, sizes[1:])]
        self._bias = bias
        self._dtype = dtype
        self._engine = _core.Engine(sizes, [ACTIVATIONS[a] for a in names], bias, dtype,
                                    [None if p is None else float(p) for p in act_params])
        self._params = self._engine.params
        self._weights, self._biases = self._views(self._params)
        self._lock = threading.RLock()
        _ALL.add(self)

    def _views(self, block):
        """(weights, biases): views of a block in the parameter layout, by layer."""
        weights, biases = [], []
        for l, (w_off, b_off) in enumerate(self._engine.offsets()):
            n_in, n_out = self._sizes[l], self._cols[l]
            weights.append(block[w_off:w_off + n_in * n_out].reshape(n_in, n_out))
            if self._bias:
                biases.append(block[b_off:b_off + n_out])
        return weights, biases

    # ---------------------------------------------------------- construction

    @classmethod
    def from_weights(cls, weights: Sequence[ArrayLike], biases: Optional[Sequence[ArrayLike]] = None,
                     activation: Activation = "sigmoid", dtype: Optional[DTypeLike] = None) -> "Network":
        """A network with the given parameters (copied).

        ``weights[i]`` has shape ``(n_in, n_out)``; ``biases[i]`` shape ``(n_out,)``,
        or ``biases=None`` for a bias-free network (a maxout layer of k
        pieces: ``n_out = units * k`` columns).  ``dtype=None`` keeps
        float32 if every weight is float32, and uses float64 otherwise.
        """
        try:
            weights = [np.asarray(w) for w in weights]
        except TypeError:
            raise TypeError(f"weights must be a list of 2-D arrays, got {weights!r}") from None
        if not weights:
            raise ValueError("weights must hold at least one (n_in, n_out) matrix, got an empty list")
        names, act_params = _checks.check_activations(activation, len(weights))
        units = []
        for i, w in enumerate(weights):
            if w.ndim != 2:
                raise ValueError(f"weights[{i}] must be 2-D (n_in, n_out), got shape {w.shape}")
            k = act_params[i] if names[i] == "maxout" else 1
            if w.shape[1] % k:
                raise ValueError(f"weights[{i}] has shape {w.shape}: a maxout layer of k={k} pieces needs "
                                 f"a multiple of {k} columns (units * k)")
            units.append(w.shape[1] // k)
            if i and w.shape[0] != units[i - 1]:
                raise ValueError(
                    f"weights[{i}] has shape {w.shape} but weights[{i - 1}] has shape "
                    f"{weights[i - 1].shape}: its rows must equal the previous layer's {units[i - 1]} outputs")
        if dtype is None:
            dtype = "float32" if all(w.dtype == np.float32 for w in weights) else "float64"
        sizes = _checks.check_sizes([weights[0].shape[0]] + units)
        dtype = _checks.check_dtype(dtype)
        net = cls.__new__(cls)
        net._build(sizes, names, act_params, biases is not None, dtype)
        net._assign(weights, biases, fresh=True)
        return net

    def _assign(self, weights, biases, fresh=False):
        """Copy new parameters in, all or nothing.  fresh: a network no one
        else holds yet (from_weights), which an error discards: copied in
        place, without a staging block or the lock."""
        new = self._params if fresh else np.empty_like(self._params)
        new_weights, new_biases = (self._weights, self._biases) if fresh else self._views(new)
        if len(weights) != len(new_weights):
            raise ValueError(f"expected {len(new_weights)} weight matrices, got {len(weights)}")
        for i, (dst, w) in enumerate(zip(new_weights, weights)):
            _checks.copy_checked(dst, w, f"weights[{i}]")
        if self._bias:
            if biases is None or len(biases) != len(new_biases):
                raise ValueError(f"expected {len(new_biases)} bias vectors, got "
                                 f"{None if biases is None else len(biases)}")
            for i, (dst, b) in enumerate(zip(new_biases, biases)):
                _checks.copy_checked(dst, b, f"biases[{i}]")
        elif biases is not None:
            raise ValueError("this network has no biases (bias=False), but biases were given")
        if fresh:
            return
        with self._writing():
            self._params[...] = new

    def _writing(self):
        """A context for Python code that writes the parameters (numpy may
        release the GIL inside a copy): the lock, and the engine marked busy
        so that `predict`'s lock-free path waits for the lock instead."""
        return _Writing(self)

    # ------------------------------------------------------------ properties

    @property
    def weights(self) -> List[NDArray[Any]]:
        """Weight matrices ``[(sizes[0], sizes[1]), ...]`` (``sizes[l+1]*k`` columns
        for a maxout layer of k pieces): views of the network's
        own parameters, so ``net.weights[0][:] = 0`` changes the network.
        Assigning a list copies it in (shapes must match)."""
        return list(self._weights)

    @weights.setter
    def weights(self, values: Sequence[ArrayLike]) -> None:
        with self._lock:
            self._assign(list(values), list(self._biases) if self._bias else None)

    @property
    def biases(self) -> Optional[List[NDArray[Any]]]:
        """Bias vectors ``[(sizes[1],), ...]`` (views, like `weights`), or None for
        a network built with ``bias=False``."""
        return list(self._biases) if self._bias else None

    @biases.setter
    def biases(self, values: Optional[Sequence[ArrayLike]]) -> None:
        with self._lock:
            self._assign(list(self._weights), None if values is None else list(values))

    @property
    def sizes(self) -> List[int]:
        """Layer widths including the input."""
        return list(self._sizes)

    @property
    def activations(self) -> List[str]:
        """Activation name of each weight layer (names only: see
        `activation_params` for their parameters)."""
        return list(self._activations)

    @property
    def activation_params(self) -> List[Union[None, float, int]]:
        """Each weight layer's activation parameter: the slope of a
        ``"leaky_relu"`` layer, the alpha of an ``"elu"`` layer (floats), the
        pieces k of a ``"maxout"`` layer (an int), None for the activations
        that take none.  Defaults included (0.01, 1.0, 2)."""
        return list(self._act_params)

    @property
    def bias(self) -> bool:
        """Whether the layers have biases."""
        return self._bias

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of the weights and of all arithmetic."""
        return self._dtype

    @property
    def n_params(self) -> int:
        """Number of trainable numbers (weights and biases)."""
        return self._params.size

    def __repr__(self) -> str:
        acts = _checks.activation_specs(self._activations, self._act_params)
        act = repr(acts[0]) if all(a == acts[0] for a in acts) else repr(acts)
        return (f"Network(sizes={self._sizes}, activation={act}, bias={self._bias}, "
                f"dtype='{self._dtype.name}')  # {self.n_params} parameters")

    # ------------------------------------------------------------- inference

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Network output for ``X`` of shape ``(n, n_in)`` -> ``(n, n_out)``; a
        1-D ``x`` of shape ``(n_in,)`` gives ``(n_out,)``.

        Lists, integer arrays and any memory layout are accepted; the result
        has the network's dtype.
        """
        try:
            out = self._engine.predict_nowait(X)  # small X: at once, without the lock
            if out is None:
                with self._lock:
                    out = self._engine.predict(X)
        except (TypeError, ValueError):
            dense = _checks.input_error(X, self._sizes[0])  # raises a clearer error if it has one
            if dense is None:
                raise
            return self.predict(dense)  # X was a scipy sparse matrix
        return out

    def feedforward(self, x: ArrayLike) -> Union[float, NDArray[Any]]:
        """Like `predict`; for one sample (1-D ``x``) of a one-output network it
        returns a Python float, as in Victor Zhou's tutorial."""
        try:
            out = self._engine.feedforward_nowait(x)  # a float for one sample of one output
            if out is None:
                with self._lock:
                    out = self._engine.predict(x)
                if out.shape == (1,):
                    return out.item()  # a Python float, for either dtype
        except (TypeError, ValueError):
            dense = _checks.input_error(x, self._sizes[0], "x")
            if dense is None:
                raise
            return self.feedforward(dense)
        return out

    def forward(self, X: ArrayLike) -> List[NDArray[Any]]:
        """Every layer's output ``[l0, l1, ..., lL]`` for ``X`` (``l0`` is ``X``
        itself in the network's dtype), Trask's names.  A 1-D ``x`` gives 1-D
        layers."""
        try:
            with self._lock:
                layers = self._engine.forward(X)
        except (TypeError, ValueError):
            dense = _checks.input_error(X, self._sizes[0])
            if dense is None:
                raise
            return self.forward(dense)
        if np.ndim(X) == 1:
            layers = [a[0] for a in layers]
        return layers

    def loss(self, X: ArrayLike, y: ArrayLike, loss: str = "mse",
             sample_weight: Optional[ArrayLike] = None) -> float:
        """The loss of the network on ``(X, y)`` (see `fit` for the losses and
        ``sample_weight``)."""
        code, data = self._prepare(X, y, loss, sample_weight=sample_weight)
        with self._lock:
            return self._engine.loss(data, code)

    def gradients(self, X: ArrayLike, y: ArrayLike, loss: str = "mse",
                  sample_weight: Optional[ArrayLike] = None
                  ) -> Tuple[List[NDArray[Any]], Optional[List[NDArray[Any]]]]:
        """The gradient of ``loss`` at the current weights, over all of ``(X, y)``
        (its rows weighted by ``sample_weight``, as in `fit`).

        Returns ``(dW, db)``: lists shaped like `weights` and `biases`
        (``db`` is None without biases).  Changes nothing.
        """
        code, data = self._prepare(X, y, loss, sample_weight=sample_weight)
        with self._lock:
            _, grads = self._engine.gradients(data, code)
        dW, db = self._views(grads)
        return dW, (db if self._bias else None)

    def prepare(self, X: ArrayLike, y: ArrayLike, loss: str = "mse",
                sample_weight: Optional[ArrayLike] = None) -> Tuple[int, Any]:
        """``(X, y)`` (and the rows' weights) checked and converted once for
        this network and ``loss``: returns ``(loss_code, data)`` for the
        engine's loss-based calls, which weight the rows by ``sample_weight``
        (documented internal interface, used by `diagnostics` and
        nnext.sklearn)."""
        return self._prepare(X, y, loss, sample_weight=sample_weight)

    def _prepare(self, X, y, loss, names=("X", "y"), sample_weight=None):
        """`prepare`, naming X and y as `names` in its errors."""
        code = _checks.check_loss(loss, self._activations[-1])
        Y = _checks.targets(y, loss, self._sizes[-1])
        try:
            data = self._engine.data(X, Y, sample_weight)
        except (TypeError, ValueError) as exc:
            if "sample_weight" in str(exc):
                raise
            dense = _checks.data_error(X, y, Y, self._sizes, self._dtype, loss, names)
            if dense is not None:  # X was a scipy sparse matrix
                return self._prepare(dense, y, loss, names, sample_weight)
            raise
        if loss == "bce":
            Y = data.Y
            if Y.min() < 0 or Y.max() > 1:
                raise ValueError(f"loss 'bce' needs targets in [0, 1], got values from {Y.min()} to {Y.max()}")
        if loss == "poisson" and data.Y.min() < 0:
            raise ValueError(f"loss 'poisson' needs counts or rates >= 0 as targets, got values "
                             f"down to {data.Y.min()}")
        return code, data

    def loss_of(self, code: int, data: Any) -> float:
        """The loss on data from `prepare` (documented internal interface)."""
        with self._lock:
            return self._engine.loss(data, code)

    # ----------------------------------------------------------- inspection

    def check_gradients(self, X: ArrayLike, y: ArrayLike, loss: str = "mse",
                        gradients: Optional[Tuple[Sequence[ArrayLike], Optional[Sequence[ArrayLike]]]] = None,
                        eps: float = 1e-6, samples: Optional[int] = None, seed: int = 0,
                        tolerance: Optional[float] = None,
                        sample_weight: Optional[ArrayLike] = None) -> "GradientCheck":
        """Compare the gradient with central finite differences computed in float64.

        Parameters
        ----------
        gradients : (dW, db) or None
            The gradient to check; None checks this network's own
            `gradients`.  Handing in a gradient lets you check your own
            backpropagation (or see the check catch a wrong one).
        eps : float
            The finite-difference step, relative: parameter w is moved by
            ``eps * max(1, |w|)``.
        samples : int or None
            Check at most this many randomly chosen entries per weight
            matrix / bias vector (None: all of them; at least 1).
        tolerance : float or None
            What `GradientCheck.ok` accepts (None: a default per dtype).
        sample_weight : array_like (n,) or None
            The rows' weights of the loss (as in `fit`), for both sides.

        Returns
        -------
        GradientCheck
            ``.layers`` (worst relative error per layer), ``.max_error``,
            ``.ok``; ``print(result)`` shows a readable report.
        """
        from .diagnostics import check_gradients
        return check_gradients(self, X, y, loss, gradients=gradients, eps=eps, samples=samples,
                               seed=seed, tolerance=tolerance, sample_weight=sample_weight)

    def summary(self, loss: Optional[str] = None, batch_size: Optional[int] = None,
                lr: Optional[float] = None, file: Optional[IO[str]] = None) -> None:
        """Print the layers (shapes, parameter counts, activations) and, given a
        loss, its formula and gradient scale: with ``batch_size`` and ``lr`` it
        shows how far one step moves compared with ``"sse"``, e.g. why
        ``loss="sse", lr=1`` and ``loss="mse", lr=0.1`` train differently."""
        if file is not None and not callable(getattr(file, "write", None)):
            raise TypeError(f"file must be None (sys.stdout) or a text file with a write method, "
                            f"got {type(file).__name__}")
        from .diagnostics import summary_text
        print(summary_text(self, loss=loss, batch_size=batch_size, lr=lr), file=file)

    # -------------------------------------------------------------- training

    @_checks.signature_without_unexpected
    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = 1, lr: float = 0.1, loss: str = "mse",
            batch_size: Optional[int] = None, shuffle: bool = False, seed: Seed = None,
            optimizer: str = "sgd", momentum: float = 0.0, beta1: float = 0.9, beta2: float = 0.999,
            eps: float = 1e-8, verbose: Union[bool, int] = 0,
            callback: Optional[Callable[[int, "Network", float], Optional[bool]]] = None,
            progress: bool = False, validation_data: Optional[Tuple[ArrayLike, ArrayLike]] = None,
            early_stopping: Optional[int] = None, trace_every: Optional[int] = None,
            l2: float = 0.0, l1: float = 0.0, nesterov: bool = False,
            lr_schedule: Union[str, Callable[[int], float]] = "constant",
            power_t: float = 0.5, sample_weight: Optional[ArrayLike] = None,
            **unexpected: NoReturn) -> History:
        """Train on ``(X, y)`` from the current weights; returns a `History`
        (which also forwards to the network: ``net.fit(X, y).predict(X)``).

        Parameters
        ----------
        X : array_like (n, n_in)
        y : array_like (n, n_out)
            With one output, ``y`` may be ``(n,)``.  With ``"cross_entropy"``
            it may be integer class labels ``(n,)``.
        epochs : int
            Passes over the data.  Two fits of 3,000 epochs equal one of 6,000.
        lr : float
            Learning rate.
        loss : str
            ``"mse"``: mean over rows and outputs of (y-p)^2.
            ``"sse"``: 1/2 * sum of (y-p)^2 over the batch (Trask: with
            ``lr=1.0`` and full batches this is his loop).
            ``"bce"``: binary cross-entropy, mean over rows and outputs
            (sigmoid output).  ``"cross_entropy"``: -sum(y log p) / rows
            (softmax output).  ``"poisson"``: half the Poisson deviance of
            the rate exp(p), mean over rows and outputs of exp(p) - y p +
            y log y - y: the output p is the log of the rate (use a
            ``"linear"`` output; targets y >= 0).
        batch_size : int or None
            None: the whole set, one update per epoch.  1: per-sample SGD in
            data order (Zhou).  Otherwise mini-batches; the last may be smaller.
        shuffle : bool
            Reshuffle the row order every epoch (from ``seed``).
        seed : None, int, RandomState or Generator
            Seeds the shuffling.
        optimizer : "sgd", "adam" or "lbfgs"
            SGD with optional ``momentum`` (v = momentum*v - lr*g; w += v), or
            Adam (``beta1``, ``beta2``, ``eps``).  Optimizer state carries over
            to the next fit with the same optimizer.  ``"lbfgs"``: scipy's
            L-BFGS-B on the whole set (needs scipy), at most ``epochs``
            iterations and ``max(15000, 4 * epochs)`` evaluations, stopping
            earlier when scipy's tests (gtol 1e-5) say it converged; ``lr``
            is unused, ``batch_size`` must be None and ``shuffle`` False, and
            momentum, lr_schedule, validation_data, early_stopping,
            trace_every and progress are refused; ``History.loss[e]`` is the
            loss (with l2, l1) after iteration e, and its length the
            iterations run.  No state carries over.
        nesterov : bool
            With ``"sgd"`` and momentum: Nesterov's momentum (v = momentum*v -
            lr*g; w += momentum*v - lr*g, scikit-learn's form).
        l2, l1 : float
            Regularisation of the weights (not the biases), added at every
            step: the batch loss gains ``l2/2 * sum(W**2) + l1 * sum(|W|)``,
            the gradient ``l2*W + l1*sign(W)``; `History.loss` includes it.
        lr_schedule : "constant", "invscaling", "adaptive" or callable
            The learning rate of each epoch of this call (counted from 0 at
            the start of the call): ``"invscaling"``: ``lr / (e*n + 1)**power_t``
            for epoch e over n rows (scikit-learn's ``lr / t**power_t``, t the
            rows seen plus one); ``"adaptive"``: ``lr``, divided by 5 each time
            the epoch loss has not fallen by 1e-4 for more than 10 epochs
            (scikit-learn's rule with its ``tol`` and ``n_iter_no_change``);
            a callable: ``lr_schedule(e)`` gives epoch e's rate (``lr`` is
            then unused).  Constant within an epoch, for every optimizer.
        power_t : float
            The exponent of ``"invscaling"``.
        sample_weight : array_like (n,) or None
            Each row's weight (finite, >= 0, a positive sum): every batch's
            loss becomes the weighted mean of its rows' losses (``"sse"``: the
            weighted sum), and its gradient likewise; None weighs the rows
            alike.  A weight of 2 is a row counted twice in its batch.
        verbose : bool or int
            ``True`` or 1 prints ``Epoch %d loss: %.3f`` every epoch, k > 1
            every k epochs (0-based epoch, loss over the whole training set
            after that epoch).
        callback : callable or None
            ``callback(epoch, net, loss)`` after every epoch; returning
            ``False`` stops training.  It runs without the network's lock, so
            it may use the network from other threads.
        progress : bool
            Show a tqdm progress bar with the current loss (a widget in
            Jupyter, text in a terminal).  Needs tqdm installed.
        validation_data : (X_val, y_val) or None
            Record the loss on this set after every epoch in ``History.val_loss``.
        early_stopping : int or None
            Patience: stop after this many epochs without a lower validation
            loss, and end with the weights and the optimizer state (Adam's
            moments and step count, the momentum) of the best epoch
            (``History.best_epoch``), so that training on from there equals
            training that many epochs from the start.  Needs ``validation_data``.
        trace_every : int or None
            k: at epoch 0, every k-th epoch and the last, record a forward and
            backward pass over ``(X, y)`` with the weights of that moment (before
            that epoch's update) in ``History.trace``, under Trask's names
            (``l0``.. ``lL``, ``l1_error``.., ``l1_delta``.., ``syn0``..) and
            his signs (``lL_error`` is ``y - lL`` for ``"sse"``).

        Returns
        -------
        History
            ``.loss[e]``: the mean of epoch e's batch losses, each from the
            forward pass before that batch's update.  ``.network`` is this
            network, and other attributes are looked up on it, so calls chain
            as a scikit-learn user expects: ``net.fit(X, y).predict(X)``.

        Raises
        ------
        ValueError, TypeError
            For bad data or arguments, before any weight changes.
        MemoryError
            When the loss history for ``epochs`` does not fit in memory.
        FloatingPointError
            When the loss turns NaN or infinite; the weights are restored to
            the end of the last finite epoch.
        KeyboardInterrupt
            On Ctrl-C (answered within about 0.1 s); the weights and the
            optimizer state are those of the last completed step (or of an
            earlier one, should that step's values not be finite).

        Warns
        -----
        UserWarning
            Once per network, when a call of 100 epochs or more leaves a
            classifier trained with a squared loss (one-hot targets of three
            or more classes, no softmax output) no better than a constant
            output: the tutorials' defaults stuck on a problem they do not
            suit; see "Recommended settings" in help(Network).
        """
        if unexpected:  # (NoReturn: type checkers refuse any keyword that lands here)
            raise _keyword_error("Network.fit()", unexpected)
        epochs = _checks.integer(epochs, "epochs", 0)
        if epochs > _MAX_EPOCHS:
            raise ValueError(f"epochs must be <= {_MAX_EPOCHS} (the loss history, 8 bytes an epoch, "
                             f"must be an array numpy can address), got {epochs}; fit in several calls")
        lr = _checks.real(lr, "lr", low=0)
        # An argument left at its default (the very object in the signature) is
        # valid: only the others are checked (a tiny network's fit costs a few
        # microseconds, of which each check is a few percent).
        d = _FIT_DEFAULTS
        if optimizer is not d["optimizer"]:
            _checks.choice(optimizer, (*OPTIMIZERS, "lbfgs"), "optimizer")
        if momentum is not d["momentum"]:
            momentum = _checks.real(momentum, "momentum", 0, 1, high_open=True)
        if beta1 is not d["beta1"]:
            beta1 = _checks.real(beta1, "beta1", 0, 1, high_open=True)
        if beta2 is not d["beta2"]:
            beta2 = _checks.real(beta2, "beta2", 0, 1, high_open=True)
        if eps is not d["eps"]:
            eps = _checks.real(eps, "eps", 0, low_open=True)
        if verbose is not d["verbose"]:
            verbose = _checks.verbosity(verbose)
        if l2 is not d["l2"]:
            l2 = _checks.real(l2, "l2", low=0)
        if l1 is not d["l1"]:
            l1 = _checks.real(l1, "l1", low=0)
        if nesterov is not d["nesterov"]:
            nesterov = _checks.boolean(nesterov, "nesterov")
        if nesterov and optimizer != "sgd":
            raise ValueError(f"nesterov=True is a form of SGD momentum: it needs optimizer='sgd', "
                             f"got optimizer={optimizer!r}")
        if power_t is not d["power_t"]:
            power_t = _checks.real(power_t, "power_t", low=0)
        trace_every = None if trace_every is None else _checks.integer(trace_every, "trace_every", 1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        if shuffle is not d["shuffle"]:
            shuffle = _checks.boolean(shuffle, "shuffle")
        seed = _checks.check_seed(seed)
        code, data = self._prepare(X, y, loss, sample_weight=sample_weight)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(f"validation_data must be a pair (X_val, y_val), got {type(validation_data).__name__}")
            try:
                validation = self._prepare(validation_data[0], validation_data[1], loss,
                                           ("X_val", "y_val"))[1]
            except (TypeError, ValueError) as exc:
                if "X_val" in str(exc) or "y_val" in str(exc):
                    raise
                # the binding's and `targets`' messages call them X and y
                raise type(exc)(f"validation_data=(X_val, y_val): {exc}") from None
        if early_stopping is not None:
            early_stopping = _checks.integer(early_stopping, "early_stopping (patience in epochs)", 1)
            if validation is None:
                raise ValueError("early_stopping needs validation_data=(X_val, y_val) to watch")
        if optimizer == "lbfgs":
            return self._fit_lbfgs(data, code, loss, epochs, l2, l1, verbose, callback, dict(
                batch_size=batch_size, shuffle=shuffle, momentum=momentum, lr_schedule=lr_schedule,
                validation_data=validation_data, early_stopping=early_stopping,
                trace_every=trace_every, progress=progress))
        n = data.X.shape[0]
        batch = n if batch_size is None else min(_checks.integer(batch_size, "batch_size", 1), n)
        try:
            losses = np.empty(epochs, dtype=np.float64)
        except MemoryError:
            raise MemoryError(f"epochs={epochs} needs {8 * epochs / 2**30:.1f} GiB for the loss "
                              f"history; fit in several calls") from None
        lrs = _checks.lr_schedule(lr_schedule, lr, power_t, epochs, n)
        rng_state = _shuffle_state(seed) if shuffle else 0
        if not (progress or verbose or callback is not None or validation is not None
                or trace_every is not None or lr_schedule == "adaptive"):
            # nothing needs Python between epochs: one call into the core
            with self._lock:
                status, n_done, _, _ = self._engine.train(
                    data, code, OPTIMIZERS[optimizer], lr, momentum, beta1, beta2, eps, batch,
                    shuffle, rng_state, epochs, losses, lrs, l2, l1, False, nesterov, False,
                    False, 0.0, 0.0)
            history = History(self)
            history._extend(losses[:n_done], copy=False)  # (losses is this call's own array)
            if status == _NONFINITE:
                raise _nonfinite_error(history, n_done, lr, loss)
            if n_done >= _STUCK_EPOCHS:
                self._hint_if_stuck(data, loss, n_done, float(losses[n_done - 1]), batch)
            return history
        settings = dict(loss=code, optimizer=OPTIMIZERS[optimizer], lr=lr, momentum=momentum,
                        beta1=beta1, beta2=beta2, eps=eps, batch_size=batch, shuffle=shuffle,
                        l2=l2, l1=l1, nesterov=nesterov)
        bar = _progress_bar(epochs) if progress else None
        with (nullcontext() if bar is None else bar):
            history = self._fit_loop(data, code, loss, lr, settings, losses,
                                     rng_state, verbose, callback, bar,
                                     validation, early_stopping, trace_every, lrs,
                                     lr_schedule == "adaptive")
        n_done = history._count()
        if n_done >= _STUCK_EPOCHS:
            self._hint_if_stuck(data, loss, n_done, float(losses[n_done - 1]), batch)
        return history

    def _fit_lbfgs(self, data, code, loss, epochs, l2, l1, verbose, callback, others):
        """fit with optimizer="lbfgs" (see fit); `others`: fit's arguments that
        L-BFGS does not take, which must be at their defaults."""
        for name, value in others.items():
            if value is not _FIT_DEFAULTS[name] and value != _FIT_DEFAULTS[name]:
                shown = repr(value) if isinstance(value, (str, int, float)) else \
                    f"<{type(value).__name__}>"
                raise ValueError(f"{name}={shown} does not apply to optimizer='lbfgs', which "
                                 f"minimises over the whole set (leave {name} at its default "
                                 f"{_FIT_DEFAULTS[name]!r}, or use optimizer='sgd' or 'adam')")
        try:
            from . import _lbfgs
        except ImportError:
            raise ImportError("fit(..., optimizer='lbfgs') needs scipy, which is not installed: "
                              "pip install scipy") from None
        history = History(self)
        with self._lock:
            start = self._params.copy()  # (L-BFGS leaves the optimizer state alone)
        losses = []

        def after_iteration(x, value):
            # each iteration's point written in: a callback sees it, and Ctrl-C leaves it
            with self._writing():
                self._params[...] = x
            losses.append(value)
            last = len(losses) - 1
            if verbose and last % verbose == 0:
                print(f"Epoch {last} loss: {value:.3f}")
            if callback is not None and callback(last, self, value) is False:
                raise StopIteration

        if epochs:
            result = _lbfgs.minimize(self, data, code, l2=l2, l1=l1, max_iter=epochs,
                                     max_fun=max(15000, 4 * epochs), gtol=1e-5,
                                     callback=after_iteration)
            losses = losses[:result.nit]
            history._extend(np.asarray(losses, dtype=np.float64))
            if not (np.isfinite(result.x).all() and np.isfinite(result.fun)):
                with self._writing():
                    self._params[...] = start
                err = FloatingPointError(
                    f"loss became NaN or infinite during L-BFGS (loss={loss!r}); weights "
                    f"restored to their values before this fit. Standardise X's columns, or "
                    f"add l2")
                err.history = history
                raise err
            with self._writing():
                self._params[...] = result.x
        return history

    def _hint_if_stuck(self, data, loss, epochs, last_loss, batch):
        """After a fit of `epochs` (>= _STUCK_EPOCHS) epochs on data, the last
        of which recorded `last_loss` with batches of `batch` rows: warn, once
        per network, when a squared loss on one-hot targets of 3 or more
        classes without a softmax output (the tutorials' defaults) has left
        the network no better than a constant output.

        "No better": the network's mean squared error on the training data
        is at least 99% of that of the best constant output, each class's
        frequency p_j, whose error is the mean of p_j (1 - p_j): it has
        learned next to nothing from X.  The last epoch's recorded loss,
        as a mean squared error, rules most networks out at once; only one
        within 10% of the constant's error costs a forward pass to decide."""
        k = self._sizes[-1]
        if (k < 3 or loss not in ("mse", "sse") or self._activations[-1] == "softmax"
                or self.__dict__.get("_stuck_hint_given")):
            return
        Y = data.Y
        n = Y.shape[0]
        if not (((Y == 0) | (Y == 1)).all() and (np.count_nonzero(Y, axis=1) == 1).all()):
            return  # not one-hot classes: the hint is not about them
        p = Y.mean(axis=0, dtype=np.float64)
        constant = float(np.mean(p * (1 - p)))
        if constant == 0.0:
            return  # one class only: nothing to learn
        # the epoch's loss as a mean squared error: "sse" is half the sum over a
        # batch's rows and outputs (m batches, equal errors per row assumed);
        # l1/l2 only add to it, so it can only keep a network in the running
        batches = -(-n // batch)
        recorded = last_loss if loss == "mse" else 2.0 * last_loss * batches / (n * k)
        if recorded < 0.9 * constant:
            return
        mse = self.loss_of(LOSSES["mse"], data)
        if not mse >= 0.99 * constant:
            return
        self._stuck_hint_given = True
        warnings.warn(
            f"after {epochs} epochs this network does no better on its {k}-class training data "
            f"than a constant output: its mean squared error is {mse:.4g}, and always "
            f"predicting each class's frequency gives {constant:.4g}. A {self._activations[-1]} "
            f"output trained with loss={loss!r}, as in the tutorials, learns such problems "
            f"slowly or not at all; for classification try ReLU hidden layers, a "
            f"softmax output with loss='cross_entropy', init='he', optimizer='adam' and "
            f"mini-batches: see 'Recommended settings' in help(nnext.Network). "
            f"(Shown once per network.)", UserWarning, stacklevel=3)

    def _fit_loop(self, data, code, loss, lr, settings, losses, rng_state, verbose, callback, bar,
                  validation, early_stopping, trace_every, lrs, adaptive):
        """fit's epochs: the C loop runs them in chunks, handing back to Python
        only where something needs it (a callback, validation, printing, a
        trace, the progress bar, the adaptive learning rate).  lrs: None or
        each epoch's learning rate, handed to the C loop with the chunk."""
        epochs = losses.shape[0]
        each_epoch = callback is not None or validation is not None or adaptive
        adapt = _checks.Adaptive(lr) if adaptive else None
        history = History(self)
        best, best_state, waited = math.inf, None, 0
        done, pace = 0, 1
        while done < epochs:
            if trace_every is not None and (done % trace_every == 0 or done == epochs - 1):
                history._record(done, self._trace(data, code))
            chunk = 1 if each_epoch else epochs - done
            if verbose:
                chunk = min(chunk, -done % verbose + 1)  # up to the next printed epoch
            if trace_every is not None:  # up to the next traced epoch
                chunk = min(chunk, max(1, min(trace_every - done % trace_every, epochs - 1 - done)))
            if bar is not None:
                chunk = min(chunk, pace)
            started = time.perf_counter()
            status, n_done, rng_state = self.train_epochs(
                data, rng_state, losses[done:done + chunk],
                lrs=None if lrs is None else lrs[done:done + chunk], **settings)
            history._extend(losses[done:done + n_done])
            done += n_done
            if bar is not None and n_done:
                bar.update(n_done)
                bar.set_postfix(loss=f"{losses[done - 1]:.4g}", refresh=False)
                # about ten updates a second, whatever an epoch costs
                per_epoch = (time.perf_counter() - started) / n_done
                pace = max(1, int(0.1 / per_epoch)) if per_epoch > 0 else pace * 10
            if status == _NONFINITE:
                raise _nonfinite_error(history, done, lr, loss)
            last = done - 1
            if adapt is not None:
                settings["lr"] = adapt.step(float(losses[last]))
            if verbose and last % verbose == 0:
                print(f"Epoch {last} loss: {self.loss_of(code, data):.3f}")
            stop = False
            if validation is not None:
                val = self.loss_of(code, validation)
                history.val_loss.append(val)
                if early_stopping is not None:
                    if val < best:
                        best, waited, history.best_epoch = val, 0, last
                        # the optimizer state too: training on from the best epoch takes
                        # the steps that training that many epochs from the start takes
                        best_state = self._checkpoint()
                    else:
                        waited += 1
                        if waited >= early_stopping:
                            history.stopped_epoch = last
                            stop = True
            if callback is not None and callback(last, self, float(losses[last])) is False:
                stop = True
            if stop:
                break
        if best_state is not None:
            self._rollback(best_state)  # early stopping ends on the best epoch's weights and optimizer state
        return history

    def train_epochs(self, data: Any, rng_state: int, losses: NDArray[np.float64], *,
                     loss: int, optimizer: int, lr: float, batch_size: int,
                     momentum: float = 0.0, beta1: float = 0.9, beta2: float = 0.999,
                     eps: float = 1e-8, shuffle: bool = False,
                     lrs: Optional[NDArray[np.float64]] = None, l2: float = 0.0, l1: float = 0.0,
                     reg_per_row: bool = False, nesterov: bool = False, adam_folded: bool = False,
                     loss_by_rows: bool = False, loss_scale: float = 0.0,
                     grad_scale: float = 0.0, prob_clip: float = 0.0,
                     orders: Optional[NDArray[np.int64]] = None) -> Tuple[int, int, int]:
        """``len(losses)`` epochs of the C training loop on data from `prepare`
        (documented internal interface, used by `fit` and `nnext.sklearn`).
        ``settings``: the engine's training options (`fit` shows them; with
        ``lrs`` an array of each epoch's rate, ``loss_scale``, ``grad_scale``,
        ``reg_per_row``, ``adam_folded``, ``loss_by_rows`` as in
        nnext_core.h's nn_train_config; ``prob_clip`` > 0 reports the bce and
        cross-entropy values from probabilities clipped to [prob_clip,
        1 - prob_clip], scikit-learn's log-loss; ``orders``, an int64 array of
        ``len(losses) * n`` row indices, visits epoch e's rows in the order
        ``orders[e*n:(e+1)*n]`` instead of shuffling).  Writes each completed epoch's loss
        into ``losses``; returns ``(status, epochs_done, rng_state)``, status
        3 when the loss turned non-finite (weights restored to the end of the
        last finite epoch)."""
        with self._lock:  # (by position: the engine's fast call, no keyword parsing)
            status, n_done, _, rng_state = self._engine.train(
                data, loss, optimizer, lr, momentum, beta1, beta2, eps, batch_size, shuffle,
                rng_state, losses.shape[0], losses, lrs, l2, l1, reg_per_row, nesterov,
                adam_folded, loss_by_rows, loss_scale, grad_scale, prob_clip, orders)
        return status, n_done, rng_state

    def _checkpoint(self):
        """Copies of the parameters and the optimizer state (its step count
        included), for `_rollback`: what a call that must leave the network as
        it was, or end on an earlier epoch, puts back."""
        with self._lock:
            return self._params.copy(), self._engine.optimizer_state()

    def _rollback(self, checkpoint):
        """Puts back the parameters and the optimizer state of `_checkpoint`."""
        params, opt = checkpoint
        with self._lock:
            with self._writing():
                self._params[...] = params
            self._engine.set_optimizer_state(opt)  # (needs the engine idle: outside _writing)

    def reset_optimizer(self) -> None:
        """Forget the optimizer state (velocity, Adam's moments and step), so
        that the next fit starts it afresh (documented internal interface)."""
        with self._lock:
            self._engine.set_optimizer_state(None)

    def _trace(self, data, code):
        """Trask's variables for one forward and backward pass over data, with the
        tutorial's signs: errors and deltas are minus the loss's gradients."""
        with self._lock:
            acts, errors, deltas, _ = self._engine.trace(data, code)
            record = {f"l{l}": a for l, a in enumerate(acts)}
            for l in range(1, len(acts)):
                record[f"l{l}_error"] = np.negative(errors[l], out=errors[l])
                record[f"l{l}_delta"] = np.negative(deltas[l], out=deltas[l])
            for l, w in enumerate(self._weights):
                record[f"syn{l}"] = w.copy()
                if self._bias:
                    record[f"b{l}"] = self._biases[l].copy()
        return record

    # ---------------------------------------------------- copies and files

    def copy(self) -> "Network":
        """An independent copy (weights, and optimizer state for further fits)."""
        with self._lock:
            return Network._restore(self.__getstate__())

    def __copy__(self) -> "Network":
        return self.copy()

    def __deepcopy__(self, memo: Any) -> "Network":
        return self.copy()

    def __getstate__(self) -> Dict[str, Any]:
        with self._lock:
            state = {"sizes": self._sizes, "activations": self._activations, "bias": self._bias,
                     "dtype": self._dtype.name, "params": self._params.copy(),
                     "opt": self._engine.optimizer_state()}
            # only when a parameter is not its default: the state (and a pickle) of
            # a network of plain activations stays what it was before parameters
            if self._activations != _checks.activation_specs(self._activations, self._act_params):
                state["activation_params"] = list(self._act_params)
            return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        """Rebuilds from `__getstate__`'s dict, checked as `load` checks a file."""
        if not isinstance(state, dict):
            raise TypeError(f"Network state must be a dict, got {type(state).__name__}")
        try:
            sizes = _checks.check_sizes(state["sizes"])
            # (states pickled before activation parameters have none: the defaults)
            names, act_params = _checks.check_activations(state["activations"], len(sizes) - 1,
                                                          state.get("activation_params"))
            bias = _checks.boolean(state["bias"], "bias")
            dtype = _checks.check_dtype(state["dtype"])
            params, opt = state["params"], state.get("opt")
        except KeyError as e:
            raise ValueError(f"Network state lacks {e.args[0]!r}") from None
        # params checked into a block of the declared size before the engine
        # allocates anything: a small state cannot declare a huge architecture
        params = np.asarray(params)
        cols = [_checks.layer_cols(a, p, m) for a, p, m in zip(names, act_params, sizes[1:])]
        n_params = _checks.param_count(sizes, cols, bias)
        if params.shape != (n_params,):
            raise ValueError(f"Network state's params must have shape ({n_params},) for sizes "
                             f"{sizes} (bias={bias}), got {params.shape}")
        block = np.empty(n_params, dtype=dtype)
        _checks.copy_checked(block, params, "params")
        self._build(sizes, names, act_params, bias, dtype)
        self._params[...] = block
        self._engine.set_optimizer_state(opt)

    @classmethod
    def _restore(cls, state):
        net = cls.__new__(cls)
        net.__setstate__(state)
        return net

    def save(self, path: Union[str, "os.PathLike[str]"]) -> str:
        """Save to a ``.npz`` file (no pickled objects inside); returns the path.

        The file is written under a temporary name and renamed, so a crash
        never leaves a half-written file at ``path``; a symbolic link is
        written through (its target is replaced).  ``.npz`` is appended when
        ``path`` has no such suffix, as `numpy.savez` does.
        """
        with self._lock:
            return _files.save(self, path)

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"]) -> "Network":
        """Load a network written by `save`.  Raises ValueError for a file that
        is not a valid nnext network (truncated, corrupted, other version,
        members that the declared architecture does not have); its memory is
        bounded by that architecture."""
        return _files.load(cls, path)

    # ------------------------------------------- ways out: PyTorch and ONNX (nnext/export.py)

    def to_torch(self, logits: bool = False) -> Any:
        """This network as a ``torch.nn.Sequential`` of ``Linear`` layers (``weight = W.T``)
        and activation modules, in its dtype; see `nnext.export.to_torch`.  Needs PyTorch.

        ``logits=True`` leaves out a softmax or sigmoid output activation, for fine-tuning
        with ``nn.CrossEntropyLoss`` (softmax) or ``nn.BCEWithLogitsLoss`` (sigmoid), which
        take logits; a linear output is its own logits (the same model); any other output
        activation raises ``ValueError``."""
        from .export import to_torch
        return to_torch(self, logits=logits)

    @classmethod
    def from_torch(cls, module: Any, dtype: Optional[DTypeLike] = None) -> "Network":
        """A network from a ``torch.nn.Sequential`` of ``Linear`` layers and the activations
        nnext knows; see `nnext.export.from_torch`.  Needs PyTorch."""
        from .export import from_torch
        return from_torch(module, dtype=dtype)

    def to_onnx(self, path: Union[str, "os.PathLike[str]"], input_dtype: Optional[DTypeLike] = None) -> str:
        """Write this network's forward pass as an ONNX model (opset 17, dynamic batch) to
        ``path``; returns the path.  See `nnext.export.to_onnx`.  Needs the onnx package.

        The input ``X`` is in the network's dtype (float64 by default: onnxruntime then
        refuses float32 arrays) unless ``input_dtype`` ("float32" or "float64") says
        otherwise; the model then casts it to the network's dtype and computes in that."""
        from .export import to_onnx
        return to_onnx(self, path, input_dtype=input_dtype)


# fit's defaults by name: the objects its signature holds (see the top of fit)
_FIT_DEFAULTS = dict(zip(Network.fit.__code__.co_varnames[1:Network.fit.__code__.co_argcount],
                         (None,) * (Network.fit.__code__.co_argcount - 1 - len(Network.fit.__defaults__))
                         + Network.fit.__defaults__))


def _keyword_error(where, unexpected):
    """The TypeError for keywords `unexpected` given to `where`, "Network()"
    or "Network.fit()": each with the argument it most likely means."""
    return _checks.unexpected_keywords(where, unexpected, {
        "Network()": (list(inspect.signature(Network).parameters), "Network(sizes, {}=...)"),
        "Network.fit()": (list(inspect.signature(Network.fit).parameters)[1:],
                          "net.fit(X, y, {}=...)")})


class _Writing:
    """Network._writing(): holds the network's lock and marks its engine busy."""

    def __init__(self, net):
        self.net = net

    def __enter__(self):
        self.net._lock.acquire()
        try:
            self.net._engine.set_busy(True)
        except BaseException:
            self.net._lock.release()
            raise

    def __exit__(self, *exc):
        try:
            self.net._engine.set_busy(False)
        finally:
            self.net._lock.release()


def _nonfinite_error(history, done, lr, loss):
    """fit's error when epoch `done` (counted in this call) turned the loss non-finite."""
    where = f"the end of epoch {done - 1}" if done else "their values before this fit"
    err = FloatingPointError(
        f"loss became NaN or infinite at epoch {done} (lr={lr}, loss={loss!r}); "
        f"weights restored to {where}. Try a smaller learning rate.")
    err.history = history
    return err


def _progress_bar(epochs):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("fit(..., progress=True) needs tqdm, which is not installed: "
                          "pip install tqdm (or pip install 'nnext[notebooks]')") from None
    return tqdm(total=epochs, unit="epoch")
