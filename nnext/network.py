"""The `Network` class: nnext's friendly API over the C core (nnext._core)."""

import math
import operator
import os
import tempfile
import threading
import time
from contextlib import nullcontext

import numpy as np

from . import _core
from .history import History

__all__ = ["Network", "ACTIVATIONS", "LOSSES", "OPTIMIZERS", "INITS"]

#: Activation names and their codes in the C core (nnext_core.h).
ACTIVATIONS = {"sigmoid": 0, "tanh": 1, "relu": 2, "leaky_relu": 3, "elu": 4, "linear": 5, "softmax": 6}
#: Loss names and their codes in the C core.
LOSSES = {"mse": 0, "sse": 1, "bce": 2, "cross_entropy": 3}
#: Optimizer names and their codes in the C core.
OPTIMIZERS = {"sgd": 0, "adam": 1}
#: Weight initialisations (see `Network`).
INITS = ("uniform", "normal", "xavier", "he")
DTYPES = ("float64", "float32")
FILE_FORMAT = "nnext-network"
FILE_VERSION = 1

# fit's status codes from the core
_OK, _NONFINITE = 0, 3


# ------------------------------------------------------------ argument checks

def _choice(value, options, what):
    """`value` must be one of `options` (a dict or tuple of names)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, one of {list(options)}; got {value!r}")
    if value not in options:
        raise ValueError(f"unknown {what} {value!r}; expected one of {list(options)}")
    return value


def _integer(value, what, minimum):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r} ({type(value).__name__})") from None
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def _real(value, what, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a real number, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"{what} must be a finite number in {rng}, got {value!r}")
    return value


def _check_sizes(sizes):
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of layer widths such as [3, 4, 1], got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, e.g. [3, 1]; got {sizes!r}")
    if len(sizes) - 1 > _core.MAX_LAYERS:
        raise ValueError(f"at most {_core.MAX_LAYERS} weight layers are supported, got {len(sizes) - 1}")
    out = []
    for i, s in enumerate(sizes):
        out.append(int(_integer(s, f"sizes[{i}] (in {sizes!r})", 1)))
    return out


def _check_activations(activation, n_layers):
    names = [activation] * n_layers if isinstance(activation, str) else activation
    try:
        names = list(names)
    except TypeError:
        raise TypeError(f"activation must be a name or a list of names, got {activation!r}") from None
    if len(names) != n_layers:
        raise ValueError(f"activation lists one name per weight layer: expected {n_layers}, got {len(names)} ({names!r})")
    for i, name in enumerate(names):
        _choice(name, ACTIVATIONS, "activation")
        if name == "softmax" and i != n_layers - 1:
            raise ValueError(f"'softmax' is for the output layer only; layer {i} of {n_layers} asks for it")
    return names


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        exc = ValueError if isinstance(dtype, str) else TypeError
        raise exc(f"dtype must be 'float64' or 'float32', got {dtype!r}") from None
    if dt.name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return dt


def _legacy_or_generator(seed):
    """seed -> a RandomState or Generator (an int or None gives a RandomState, as Trask's np.random.seed)."""
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    raise TypeError(f"seed must be None, an int, a numpy RandomState or Generator; got {seed!r}")


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
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be None, an int, a numpy RandomState or Generator; got {seed!r}")
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])


# ------------------------------------------------------------------- Network

class Network:
    """A fully-connected neural network whose forward pass, backpropagation and
    training run in C.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths including the input, e.g. ``[3, 4, 1]``.
    activation : str or list of str
        One name for every layer, or one per weight layer: ``"sigmoid"``,
        ``"tanh"``, ``"relu"``, ``"leaky_relu"`` (max(0.01x, x)), ``"elu"``
        (alpha = 1), ``"linear"``, ``"softmax"`` (output layer only).
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
    ``weights[l]`` of shape ``(sizes[l], sizes[l+1])``.

    Examples
    --------
    >>> X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    >>> y = [[0], [1], [1], [0]]
    >>> net = Network([3, 4, 1], bias=False, seed=1)
    >>> history = net.fit(X, y, epochs=60000, lr=1.0, loss="sse")
    >>> net.predict(X).round(2).ravel().tolist()
    [0.0, 1.0, 1.0, 0.0]
    """

    def __init__(self, sizes, activation="sigmoid", bias=True, dtype="float64", init="uniform", seed=None):
        sizes = _check_sizes(sizes)
        names = _check_activations(activation, len(sizes) - 1)
        dtype = _check_dtype(dtype)
        _choice(init, INITS, "init")
        rng = _legacy_or_generator(seed)
        self._build(sizes, names, bool(bias), dtype)
        for l, w in enumerate(self._weights):
            w[...] = _draw(rng, init, sizes[l], sizes[l + 1])

    def _build(self, sizes, names, bias, dtype, params=None):
        """Lay out the parameter block and bind the C engine to it."""
        n_params = sum(a * b + (b if bias else 0) for a, b in zip(sizes[:-1], sizes[1:]))
        if params is None:
            params = np.zeros(n_params, dtype=dtype)
        self._sizes = sizes
        self._activations = names
        self._bias = bias
        self._dtype = dtype
        self._params = params
        self._engine = _core.Engine(sizes, [ACTIVATIONS[a] for a in names], bias, params)
        self._weights, self._biases = [], []
        for l, (w_off, b_off) in enumerate(self._engine.offsets()):
            n_in, n_out = sizes[l], sizes[l + 1]
            self._weights.append(params[w_off:w_off + n_in * n_out].reshape(n_in, n_out))
            if bias:
                self._biases.append(params[b_off:b_off + n_out])
        self._lock = threading.RLock()
        self._opt = None  # optimizer state carried across fits: (key, state array, adam step)

    # ---------------------------------------------------------- construction

    @classmethod
    def from_weights(cls, weights, biases=None, activation="sigmoid", dtype=None):
        """A network with the given parameters (copied).

        ``weights[i]`` has shape ``(n_in, n_out)``; ``biases[i]`` shape ``(n_out,)``,
        or ``biases=None`` for a bias-free network.  ``dtype=None`` keeps
        float32 if every weight is float32, and uses float64 otherwise.
        """
        try:
            weights = [np.asarray(w) for w in weights]
        except TypeError:
            raise TypeError(f"weights must be a list of 2-D arrays, got {weights!r}") from None
        if not weights:
            raise ValueError("weights must hold at least one (n_in, n_out) matrix, got an empty list")
        for i, w in enumerate(weights):
            if w.ndim != 2:
                raise ValueError(f"weights[{i}] must be 2-D (n_in, n_out), got shape {w.shape}")
            if i and w.shape[0] != weights[i - 1].shape[1]:
                raise ValueError(
                    f"weights[{i}] has shape {w.shape} but weights[{i - 1}] has shape "
                    f"{weights[i - 1].shape}: its rows must equal the previous layer's {weights[i - 1].shape[1]} outputs")
        if dtype is None:
            dtype = "float32" if all(w.dtype == np.float32 for w in weights) else "float64"
        sizes = [weights[0].shape[0]] + [w.shape[1] for w in weights]
        sizes = _check_sizes(sizes)
        names = _check_activations(activation, len(weights))
        dtype = _check_dtype(dtype)
        net = cls.__new__(cls)
        net._build(sizes, names, biases is not None, dtype)
        net._assign(weights, biases)
        return net

    def _assign(self, weights, biases):
        """Copy new parameters in, all or nothing."""
        new = np.empty_like(self._params)
        staged = Network.__new__(Network)
        staged._build(self._sizes, self._activations, self._bias, self._dtype, new)
        if len(weights) != len(staged._weights):
            raise ValueError(f"expected {len(staged._weights)} weight matrices, got {len(weights)}")
        for i, (dst, w) in enumerate(zip(staged._weights, weights)):
            _copy_checked(dst, w, f"weights[{i}]")
        if self._bias:
            if biases is None or len(biases) != len(staged._biases):
                raise ValueError(f"expected {len(staged._biases)} bias vectors, got "
                                 f"{None if biases is None else len(biases)}")
            for i, (dst, b) in enumerate(zip(staged._biases, biases)):
                _copy_checked(dst, b, f"biases[{i}]")
        elif biases is not None:
            raise ValueError("this network has no biases (bias=False), but biases were given")
        self._params[...] = new

    # ------------------------------------------------------------ properties

    @property
    def weights(self):
        """Weight matrices ``[(sizes[0], sizes[1]), ...]``: views of the network's
        own parameters, so ``net.weights[0][:] = 0`` changes the network.
        Assigning a list copies it in (shapes must match)."""
        return list(self._weights)

    @weights.setter
    def weights(self, values):
        with self._lock:
            self._assign(list(values), list(self._biases) if self._bias else None)

    @property
    def biases(self):
        """Bias vectors ``[(sizes[1],), ...]`` (views, like `weights`), or None for
        a network built with ``bias=False``."""
        return list(self._biases) if self._bias else None

    @biases.setter
    def biases(self, values):
        with self._lock:
            self._assign(list(self._weights), None if values is None else list(values))

    @property
    def sizes(self):
        """Layer widths including the input."""
        return list(self._sizes)

    @property
    def activations(self):
        """Activation name of each weight layer."""
        return list(self._activations)

    @property
    def bias(self):
        """Whether the layers have biases."""
        return self._bias

    @property
    def dtype(self):
        """The numpy dtype of the weights and of all arithmetic."""
        return self._dtype

    @property
    def n_params(self):
        """Number of trainable numbers (weights and biases)."""
        return self._params.size

    def __repr__(self):
        acts = self._activations
        act = repr(acts[0]) if len(set(acts)) == 1 else repr(acts)
        return (f"Network(sizes={self._sizes}, activation={act}, bias={self._bias}, "
                f"dtype='{self._dtype.name}')  # {self.n_params} parameters")

    # ------------------------------------------------------------- inference

    def predict(self, X):
        """Network output for ``X`` of shape ``(n, n_in)`` -> ``(n, n_out)``; a
        1-D ``x`` of shape ``(n_in,)`` gives ``(n_out,)``.

        Lists, integer arrays and any memory layout are accepted; the result
        has the network's dtype.
        """
        with self._lock:
            return self._engine.predict(X)

    def feedforward(self, x):
        """Like `predict`; for one sample (1-D ``x``) of a one-output network it
        returns a Python float, as in Victor Zhou's tutorial."""
        with self._lock:
            out = self._engine.predict(x)
        if out.ndim == 1 and out.shape[0] == 1:
            return float(out[0])
        return out

    def forward(self, X):
        """Every layer's output ``[l0, l1, ..., lL]`` for ``X`` (``l0`` is ``X``
        itself in the network's dtype), Trask's names.  A 1-D ``x`` gives 1-D
        layers."""
        with self._lock:
            layers = self._engine.forward(X)
        if np.ndim(X) == 1:
            layers = [a[0] for a in layers]
        return layers

    def loss(self, X, y, loss="mse"):
        """The loss of the network on ``(X, y)`` (see `fit` for the losses)."""
        code, Xa, Ya = self._data(X, y, loss)
        with self._lock:
            return self._engine.loss(Xa, Ya, code)

    def gradients(self, X, y, loss="mse"):
        """The gradient of ``loss`` at the current weights, over all of ``(X, y)``.

        Returns ``(dW, db)``: lists shaped like `weights` and `biases`
        (``db`` is None without biases).  Changes nothing.
        """
        code, Xa, Ya = self._data(X, y, loss)
        grads = np.empty_like(self._params)
        with self._lock:
            self._engine.gradients(Xa, Ya, code, grads)
        dW, db = [], []
        for l, (w_off, b_off) in enumerate(self._engine.offsets()):
            n_in, n_out = self._sizes[l], self._sizes[l + 1]
            dW.append(grads[w_off:w_off + n_in * n_out].reshape(n_in, n_out))
            if self._bias:
                db.append(grads[b_off:b_off + n_out])
        return dW, (db if self._bias else None)

    # ----------------------------------------------------------- inspection

    def check_gradients(self, X, y, loss="mse", gradients=None, eps=1e-6, samples=None, seed=0,
                        tolerance=None):
        """Compare the gradient with central finite differences computed in float64.

        Parameters
        ----------
        gradients : (dW, db) or None
            The gradient to check; None checks this network's own
            `gradients`.  Handing in a gradient lets you check your own
            backpropagation (or see the check catch a wrong one).
        eps : float
            The finite-difference step.
        samples : int or None
            Check at most this many randomly chosen entries per weight
            matrix / bias vector (None: all of them).
        tolerance : float or None
            What `GradientCheck.ok` accepts: 1e-6 for float64, 1e-2 for float32.

        Returns
        -------
        GradientCheck
            ``.layers`` (worst relative error per layer), ``.max_error``,
            ``.ok``; ``print(result)`` shows a readable report.
        """
        from .diagnostics import check_gradients
        return check_gradients(self, X, y, loss, gradients=gradients, eps=eps, samples=samples,
                               seed=seed, tolerance=tolerance)

    def summary(self, loss=None, batch_size=None, lr=None, file=None):
        """Print the layers (shapes, parameter counts, activations) and, given a
        loss, its formula and gradient scale: with ``batch_size`` and ``lr`` it
        shows how far one step moves compared with ``"sse"``, e.g. why
        ``loss="sse", lr=1`` and ``loss="mse", lr=0.1`` train differently."""
        from .diagnostics import summary_text
        print(summary_text(self, loss=loss, batch_size=batch_size, lr=lr), file=file)

    # -------------------------------------------------------------- training

    def fit(self, X, y, epochs=1, lr=0.1, loss="mse", batch_size=None, shuffle=False, seed=None,
            optimizer="sgd", momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8, verbose=0, callback=None,
            progress=False, validation_data=None, early_stopping=None, trace_every=None):
        """Train on ``(X, y)`` from the current weights; returns a `History`.

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
            (softmax output).
        batch_size : int or None
            None: the whole set, one update per epoch.  1: per-sample SGD in
            data order (Zhou).  Otherwise mini-batches; the last may be smaller.
        shuffle : bool
            Reshuffle the row order every epoch (from ``seed``).
        seed : None, int, RandomState or Generator
            Seeds the shuffling.
        optimizer : "sgd" or "adam"
            SGD with optional ``momentum`` (v = momentum*v - lr*g; w += v), or
            Adam (``beta1``, ``beta2``, ``eps``).  Optimizer state carries over
            to the next fit with the same optimizer.
        verbose : int
            k > 0 prints ``Epoch %d loss: %.3f`` every k epochs (0-based epoch,
            loss over the whole training set after that epoch).
        callback : callable or None
            ``callback(epoch, net, loss)`` after every epoch; returning
            ``False`` stops training.
        progress : bool
            Show a tqdm progress bar with the current loss (a widget in
            Jupyter, text in a terminal).  Needs tqdm installed.
        validation_data : (X_val, y_val) or None
            Record the loss on this set after every epoch in ``History.val_loss``.
        early_stopping : int or None
            Patience: stop after this many epochs without a lower validation
            loss, and end with the weights of the best epoch
            (``History.best_epoch``).  Needs ``validation_data``.
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
            forward pass before that batch's update.

        Raises
        ------
        ValueError, TypeError
            For bad data or arguments, before any weight changes.
        FloatingPointError
            When the loss turns NaN or infinite; the weights are restored to
            the end of the last finite epoch.
        KeyboardInterrupt
            On Ctrl-C (answered within about 0.1 s); the weights are those
            of the last completed step.
        """
        epochs = _integer(epochs, "epochs", 0)
        lr = _real(lr, "lr", low=0)
        _choice(optimizer, OPTIMIZERS, "optimizer")
        momentum = _real(momentum, "momentum", 0, 1, high_open=True)
        beta1 = _real(beta1, "beta1", 0, 1, high_open=True)
        beta2 = _real(beta2, "beta2", 0, 1, high_open=True)
        eps = _real(eps, "eps", 0, low_open=True)
        verbose = _integer(verbose, "verbose", 0)
        trace_every = None if trace_every is None else _integer(trace_every, "trace_every", 1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {callback!r}")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        code, Xa, Ya = self._data(X, y, loss)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(f"validation_data must be a pair (X_val, y_val), got {type(validation_data).__name__}")
            _, Xv, Yv = self._data(validation_data[0], validation_data[1], loss)
            validation = (Xv, Yv)
        if early_stopping is not None:
            early_stopping = _integer(early_stopping, "early_stopping (patience in epochs)", 1)
            if validation is None:
                raise ValueError("early_stopping needs validation_data=(X_val, y_val) to watch")
        n = Xa.shape[0]
        batch = n if batch_size is None else min(_integer(batch_size, "batch_size", 1), n)
        rng_state = _shuffle_state(seed) if shuffle else 0
        bar = _progress_bar(epochs) if progress else None
        each_epoch = callback is not None or validation is not None

        history = History()
        with self._lock, _closing(bar):
            key = (optimizer, optimizer == "adam" or momentum > 0)
            state, adam_step = self._optimizer_state(key)
            losses = np.empty(epochs, dtype=np.float64)
            best, best_params, waited = math.inf, None, 0
            done, pace = 0, 1
            while done < epochs:
                if trace_every is not None and (done % trace_every == 0 or done == epochs - 1):
                    history._record(done, self._trace(Xa, Ya, code))
                # the C loop hands back to Python only where something needs it
                chunk = 1 if each_epoch else epochs - done
                if verbose:
                    chunk = min(chunk, -done % verbose + 1)  # up to the next printed epoch
                if trace_every is not None:  # up to the next traced epoch
                    chunk = min(chunk, max(1, min(trace_every - done % trace_every, epochs - 1 - done)))
                if bar is not None:
                    chunk = min(chunk, pace)
                started = time.perf_counter()
                status, n_done, bad, rng_state, adam_step = self._engine.train(
                    Xa, Ya, code, OPTIMIZERS[optimizer], lr, momentum, beta1, beta2, eps, batch,
                    bool(shuffle), rng_state, adam_step, chunk, state, losses[done:done + chunk])
                self._opt = (key, state, adam_step)
                history._extend(losses[done:done + n_done])
                done += n_done
                if bar is not None and n_done:
                    bar.update(n_done)
                    bar.set_postfix(loss=f"{losses[done - 1]:.4g}", refresh=False)
                    # about ten updates a second, whatever an epoch costs
                    per_epoch = (time.perf_counter() - started) / n_done
                    pace = max(1, int(0.1 / per_epoch)) if per_epoch > 0 else pace * 10
                if status == _NONFINITE:
                    epoch = done
                    where = f"the end of epoch {epoch - 1}" if epoch else "their values before this fit"
                    err = FloatingPointError(
                        f"loss became NaN or infinite at epoch {epoch} (lr={lr}, loss={loss!r}); "
                        f"weights restored to {where}. Try a smaller learning rate.")
                    err.history = history
                    raise err
                last = done - 1
                if verbose and last % verbose == 0:
                    print(f"Epoch {last} loss: {self._engine.loss(Xa, Ya, code):.3f}")
                stop = False
                if validation is not None:
                    val = self._engine.loss(validation[0], validation[1], code)
                    history.val_loss.append(val)
                    if early_stopping is not None:
                        if val < best:
                            best, waited, history.best_epoch = val, 0, last
                            best_params = self._params.copy()
                        else:
                            waited += 1
                            if waited >= early_stopping:
                                history.stopped_epoch = last
                                stop = True
                if callback is not None and callback(last, self, float(losses[last])) is False:
                    stop = True
                if stop:
                    break
            if best_params is not None:
                self._params[...] = best_params  # early stopping ends on the best epoch's weights
        return history

    def _trace(self, Xa, Ya, code):
        """Trask's variables for one forward and backward pass over (Xa, Ya), with the
        tutorial's signs: errors and deltas are minus the loss's gradients."""
        acts, errors, deltas, _ = self._engine.trace(Xa, Ya, code)
        record = {f"l{l}": a for l, a in enumerate(acts)}
        for l in range(1, len(acts)):
            record[f"l{l}_error"] = np.negative(errors[l], out=errors[l])
            record[f"l{l}_delta"] = np.negative(deltas[l], out=deltas[l])
        for l, w in enumerate(self._weights):
            record[f"syn{l}"] = w.copy()
            if self._bias:
                record[f"b{l}"] = self._biases[l].copy()
        return record

    def _optimizer_state(self, key):
        """The optimizer's state buffer, kept across fits while the optimizer is the same."""
        if self._opt is not None and self._opt[0] == key:
            return self._opt[1], self._opt[2]
        optimizer, stateful = key
        n_state = (2 if optimizer == "adam" else 1) if stateful else 0
        return np.zeros(n_state * self._params.size, dtype=self._dtype), 0

    def _data(self, X, y, loss):
        """Validate (X, y) for `loss`: (loss code, X array, y array), both 2-D in our dtype."""
        _choice(loss, LOSSES, "loss")
        out_act, k = self._activations[-1], self._sizes[-1]
        if loss == "bce" and out_act != "sigmoid":
            raise ValueError(f"loss 'bce' needs a 'sigmoid' output layer, this network's output is {out_act!r}")
        if loss == "cross_entropy" and out_act != "softmax":
            raise ValueError(f"loss 'cross_entropy' needs a 'softmax' output layer, this network's output is {out_act!r}")
        Xa = self._engine.as_matrix(X, self._sizes[0], "X")
        y_arr = np.asarray(y)
        if y_arr.dtype.kind not in "biuf":
            raise TypeError(f"y must hold real numbers, got dtype {y_arr.dtype}")
        if y_arr.ndim == 1:
            if loss == "cross_entropy" and k > 1:
                y_arr = _one_hot(y_arr, k)
            elif k == 1:
                y_arr = y_arr.reshape(-1, 1)
            else:
                raise ValueError(f"y must be 2-D (n_samples, {k}) for a network with {k} outputs, got shape {y_arr.shape}")
        Ya = self._engine.as_matrix(y_arr, k, "y")
        if Xa.shape[0] != Ya.shape[0]:
            raise ValueError(f"X and y must have the same number of rows, got X shape {Xa.shape} and y shape {np.shape(y)}")
        if loss == "bce" and (Ya.min() < 0 or Ya.max() > 1):
            raise ValueError(f"loss 'bce' needs targets in [0, 1], got values from {Ya.min()} to {Ya.max()}")
        return LOSSES[loss], Xa, Ya

    # ---------------------------------------------------- copies and files

    def copy(self):
        """An independent copy (weights, and optimizer state for further fits)."""
        with self._lock:
            net = Network.__new__(Network)
            net._build(self._sizes, self._activations, self._bias, self._dtype, self._params.copy())
            if self._opt is not None:
                net._opt = (self._opt[0], self._opt[1].copy(), self._opt[2])
            return net

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __getstate__(self):
        with self._lock:
            return {"sizes": self._sizes, "activations": self._activations, "bias": self._bias,
                    "dtype": self._dtype.name, "params": self._params.copy(),
                    "opt": None if self._opt is None else (self._opt[0], self._opt[1].copy(), self._opt[2])}

    def __setstate__(self, state):
        params = np.ascontiguousarray(state["params"], dtype=state["dtype"]).copy()
        self._build(list(state["sizes"]), list(state["activations"]), bool(state["bias"]),
                    np.dtype(state["dtype"]), params)
        self._opt = state.get("opt")

    def save(self, path):
        """Save to a ``.npz`` file (no pickled objects inside); returns the path.

        The file is written under a temporary name and renamed, so a crash
        never leaves a half-written file at ``path``.  ``.npz`` is appended
        when ``path`` has no such suffix, as `numpy.savez` does.
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        with self._lock:
            arrays = {"format": np.array(FILE_FORMAT), "version": np.array(FILE_VERSION),
                      "sizes": np.array(self._sizes, dtype=np.int64),
                      "activations": np.array(self._activations), "bias": np.array(self._bias),
                      "dtype": np.array(self._dtype.name)}
            for l, w in enumerate(self._weights):
                arrays[f"W{l}"] = w.copy()
                if self._bias:
                    arrays[f"b{l}"] = self._biases[l].copy()
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".nnext-", suffix=".npz.tmp", dir=folder)
        try:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; give what np.savez would
                os.fchmod(fd, _new_file_mode(path))
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return path

    @classmethod
    def load(cls, path):
        """Load a network written by `save`.  Raises ValueError for a file that
        is not a valid nnext network (truncated, corrupted, other version)."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except (OSError, EOFError) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise ValueError(f"{path!r} is not a readable nnext network file: {e}") from e
        except Exception as e:  # zipfile.BadZipFile, ValueError from numpy on corrupt data
            raise ValueError(f"{path!r} is not a readable nnext network file: {e}") from e
        try:
            return cls._from_saved(data, path)
        except (TypeError, ValueError) as e:  # every complaint names the file, as ValueError
            if type(e) is ValueError and repr(path) in str(e):
                raise
            raise ValueError(f"{path!r} is not a valid nnext network file: {e}") from e

    @classmethod
    def _from_saved(cls, data, path):
        def field(name):
            if name not in data:
                raise ValueError(f"{path!r} is not an nnext network file: it has no {name!r} entry")
            return data[name]

        if str(field("format")) != FILE_FORMAT:
            raise ValueError(f"{path!r} is not an nnext network file (format {str(data['format'])!r})")
        version = field("version")
        if version.shape != () or version.dtype.kind not in "iu" or int(version) != FILE_VERSION:
            raise ValueError(f"{path!r} has file version {version!r}; this nnext reads version {FILE_VERSION}")
        sizes = field("sizes")
        acts = field("activations")
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or acts.ndim != 1 or acts.dtype.kind != "U":
            raise ValueError(f"{path!r} has malformed sizes or activations")
        bias = bool(field("bias"))
        n_layers = len(sizes) - 1
        weights = [field(f"W{l}") for l in range(n_layers)]
        biases = [field(f"b{l}") for l in range(n_layers)] if bias else None
        for l, w in enumerate(weights):
            if w.shape != (sizes[l], sizes[l + 1]):
                raise ValueError(f"{path!r}: W{l} has shape {w.shape}, expected {(int(sizes[l]), int(sizes[l + 1]))}")
        net = cls.from_weights(weights, biases, activation=[str(a) for a in acts], dtype=str(field("dtype")))
        return net

    # ------------------------------------------- ways out: PyTorch and ONNX (nnext/export.py)

    def to_torch(self):
        """This network as a ``torch.nn.Sequential`` of ``Linear`` layers (``weight = W.T``)
        and activation modules, in its dtype; see `nnext.export.to_torch`.  Needs PyTorch."""
        from .export import to_torch
        return to_torch(self)

    @classmethod
    def from_torch(cls, module, dtype=None):
        """A network from a ``torch.nn.Sequential`` of ``Linear`` layers and the activations
        nnext knows; see `nnext.export.from_torch`.  Needs PyTorch."""
        from .export import from_torch
        return from_torch(module, dtype=dtype)

    def to_onnx(self, path):
        """Write this network's forward pass as an ONNX model (opset 17, dynamic batch) to
        ``path``; returns the path.  See `nnext.export.to_onnx`.  Needs the onnx package."""
        from .export import to_onnx
        return to_onnx(self, path)


def _new_file_mode(path):
    """Permission bits for a saved file: those of the file it replaces, else
    what a plain open() would give (0o666 minus the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    try:
        with open("/proc/self/status") as f:  # the umask, without os.umask's race
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def _progress_bar(epochs):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("fit(..., progress=True) needs tqdm, which is not installed: "
                          "pip install tqdm (or pip install 'nnext[notebooks]')") from None
    return tqdm(total=epochs, unit="epoch")


def _closing(bar):
    return nullcontext() if bar is None else bar


def _copy_checked(dst, src, name):
    src = np.asarray(src)
    if src.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {src.dtype}")
    if src.shape != dst.shape:
        raise ValueError(f"{name} must have shape {dst.shape}, got {src.shape}")
    if not np.all(np.isfinite(src)):
        raise ValueError(f"{name} contains NaN or infinity")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        converted = src.astype(dst.dtype)
    if not np.all(np.isfinite(converted)):  # e.g. 1e300 into a float32 network
        raise ValueError(f"{name} has values too large for {dst.dtype} (they would become infinity)")
    dst[...] = converted


def _one_hot(labels, k):
    """Integer class labels (n,) -> one-hot (n, k) in float64."""
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("class labels y must be whole numbers")
    elif labels.dtype.kind not in "iub":
        raise TypeError(f"class labels y must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"class labels y must be in 0..{k - 1} for {k} outputs, got values from "
                         f"{labels.min()} to {labels.max()}")
    out = np.zeros((labels.shape[0], k))
    out[np.arange(labels.shape[0]), labels.astype(np.intp)] = 1.0
    return out
