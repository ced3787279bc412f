"""Argument checking for the friendly API: every check that names the
argument, what was expected and what came.  The C binding checks arrays
(shape, dtype, finiteness); this module checks everything else once, before
anything changes."""

import math
import operator

import numpy as np

from . import _core

#: Activation, loss and optimizer names and their codes in the C core, read
#: from the core itself (nnext_core.h's enums and name tables).
ACTIVATIONS = {name: code for code, name in enumerate(_core.ACTIVATIONS)}
LOSSES = {name: code for code, name in enumerate(_core.LOSSES)}
OPTIMIZERS = {name: code for code, name in enumerate(_core.OPTIMIZERS)}
#: Weight initialisations (see `Network`), by their codes in the core
#: (nnext_core.h's NN_INIT_*, drawn by nnext_random.c).
INITS = tuple(_core.INITS)
DTYPES = ("float64", "float32")
# dtype arguments seen often, to their dtype (np.dtype(name) costs microseconds)
_KNOWN_DTYPES = {key: np.dtype(name) for name in DTYPES
                 for key in (name, np.dtype(name), np.dtype(name).type)}
_KNOWN_DTYPES[float] = np.dtype("float64")


def choice(value, options, what):
    """`value` must be one of `options` (a dict or tuple of names)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, one of {list(options)}; got {value!r}")
    if value not in options:
        raise ValueError(f"unknown {what} {value!r}; expected one of {list(options)}")
    return value


def integer(value, what, minimum, maximum=None):
    """An int in [minimum, maximum]; bools are refused."""
    if type(value) is int and value >= minimum and (maximum is None or value <= maximum):
        return value  # the common case first
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r} ({type(value).__name__})") from None
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be <= {maximum}, got {value}")
    return value


def real(value, what, low=None, high=None, low_open=False, high_open=False):
    """A finite float in the given range; bools are refused."""
    if (type(value) is float and -math.inf < value < math.inf  # the common case first
            and (low is None or (value > low if low_open else value >= low))
            and (high is None or (value < high if high_open else value <= high))):
        return value
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


def boolean(value, what):
    """True or False (numpy's bools included); anything else is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def check_sizes(sizes):
    if (type(sizes) in (list, tuple) and 2 <= len(sizes) <= _core.MAX_LAYERS + 1
            and all(type(s) is int and 1 <= s <= _core.MAX_WIDTH for s in sizes)):
        return list(sizes)  # the common case, without building the messages below
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of layer widths such as [3, 4, 1], got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, e.g. [3, 1]; got {sizes!r}")
    if len(sizes) - 1 > _core.MAX_LAYERS:
        raise ValueError(f"at most {_core.MAX_LAYERS} weight layers are supported, got {len(sizes) - 1}")
    return [int(integer(s, f"sizes[{i}] (in {sizes!r})", 1, _core.MAX_WIDTH)) for i, s in enumerate(sizes)]


#: Each activation's parameter as the core defines it (nnext_core.h's
#: nn_activation_param): name -> None (it takes none) or a tuple
#: ``(parameter name, default, low, high, low_open, integral)``.
ACTIVATION_PARAMS = {name: _core.ACTIVATION_PARAMS[code] for name, code in ACTIVATIONS.items()}


def activation_default(name):
    """The default parameter of activation `name` (an int for a whole-number
    one such as maxout's k), or None when it takes none."""
    info = ACTIVATION_PARAMS[name]
    if info is None:
        return None
    return int(info[1]) if info[5] else float(info[1])


def activation_param(name, value, what):
    """`value` checked as the parameter of activation `name`: a float in its
    range (leaky_relu's slope, elu's alpha), or an int (maxout's pieces)."""
    info = ACTIVATION_PARAMS[name]
    if info is None:
        raise ValueError(f"{what}: activation {name!r} takes no parameter, got {value!r}; "
                         f"only {[n for n, i in ACTIVATION_PARAMS.items() if i]} do")
    pname, _, low, high, low_open, integral = info
    what = f"{what} ({name}'s {pname})"
    if integral:
        return integer(value, what, int(low), int(high))
    return real(value, what, low, None if math.isinf(high) else high, low_open=low_open)


def _is_pair(x):
    """(name, parameter): a tuple or list of a string and something that is not one."""
    return isinstance(x, (tuple, list)) and len(x) == 2 and isinstance(x[0], str) and not isinstance(x[1], str)


def param_count(sizes, cols, bias):
    """The number of parameters of a network of these (checked) sizes, each
    layer `cols[l]` columns wide (layer_cols: sizes[l+1], or m*k for maxout):
    the count nnext_core.h's layout (nn_param_count) gives, for checks made
    before an engine exists."""
    return sum(n_in * n_cols + (n_cols if bias else 0) for n_in, n_cols in zip(sizes, cols))


def check_activations(activation, n_layers, params=None):
    """``(names, params)``: one activation name and one parameter per layer
    (None for an activation without one, its default when none was given).

    `activation` is a name or a ``(name, parameter)`` pair for every layer,
    or a list of them, one per weight layer.  `params`, when given, is a
    list of parameters that overrides the pairs' (used when reading a state
    or a file, where names and parameters are stored apart; None entries
    mean the default)."""
    if type(activation) is str and params is None and activation in _ANY_LAYER_DEFAULTS:
        # the common case: one name for every layer, at its default
        return [activation] * n_layers, [_ANY_LAYER_DEFAULTS[activation]] * n_layers
    if isinstance(activation, str) or (isinstance(activation, tuple) and _is_pair(activation)):
        specs = [activation] * n_layers
    else:
        try:
            specs = list(activation)
        except TypeError:
            raise TypeError(f"activation must be a name, a (name, parameter) pair, or a list of them, "
                            f"got {activation!r}") from None
    if len(specs) != n_layers:
        raise ValueError(f"activation lists one name per weight layer: expected {n_layers}, got {len(specs)} ({specs!r})")
    if params is not None:
        params = list(params)
        if len(params) != n_layers:
            raise ValueError(f"activation parameters: expected {n_layers}, got {len(params)} ({params!r})")
    names, values = [], []
    for i, spec in enumerate(specs):
        what = "activation" if n_layers == 1 or spec is activation else f"activation[{i}]"
        if _is_pair(spec):
            name, value = spec
        elif isinstance(spec, str):
            name, value = spec, None
        else:
            raise TypeError(f"{what} must be a name or a (name, parameter) pair such as ('leaky_relu', 0.1), "
                            f"got {spec!r}")
        choice(name, ACTIVATIONS, "activation")
        if params is not None and params[i] is not None:
            value = params[i]
        if name == "softmax" and i != n_layers - 1:
            raise ValueError(f"'softmax' is for the output layer only; layer {i} of {n_layers} asks for it")
        if name == "maxout" and i == n_layers - 1:
            raise ValueError(f"'maxout' is for hidden layers only; layer {i}, the output layer, asks for it")
        if value is not None or _is_pair(spec):
            value = activation_param(name, value, what)
        else:
            value = activation_default(name)
        names.append(name)
        values.append(value)
    return names, values


def activation_specs(names, params):
    """The activation argument that rebuilds layers `names` with `params`: each
    a plain name at its default parameter, a (name, parameter) pair otherwise."""
    return [n if p == activation_default(n) else (n, p) for n, p in zip(names, params)]


def layer_cols(name, param, units):
    """The columns of a layer's weights: units, or units * k for maxout."""
    return units * param if name == "maxout" else units


def check_dtype(dtype):
    try:
        return _KNOWN_DTYPES[dtype]
    except (KeyError, TypeError):  # (TypeError: unhashable)
        pass
    try:
        dt = np.dtype(dtype)
    except Exception:  # numpy's own errors: TypeError, and SyntaxError for some strings ("f8,,")
        exc = ValueError if isinstance(dtype, str) else TypeError
        raise exc(f"dtype must be 'float64' or 'float32', got {dtype!r}") from None
    if dt.name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return dt


def check_seed(seed):
    """None, a non-negative int, or a numpy RandomState / Generator."""
    if seed is None or isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if seed < 0 or seed >= 2**32:
            raise ValueError(f"seed must be an int in [0, 2**32 - 1] (numpy's legacy seeds), got {seed}")
        return int(seed)
    raise TypeError(f"seed must be None, an int, a numpy RandomState or Generator; got {seed!r}")


def copy_checked(dst, src, name):
    """Copies array-like src into dst (same shape), refusing NaN/inf and values
    that would overflow dst's dtype."""
    if _core._copy_finite(dst, src):  # the common case, in one C pass
        return
    src = np.asarray(src)
    if src.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {src.dtype}")
    if src.shape != dst.shape:
        raise ValueError(f"{name} must have shape {dst.shape}, got {src.shape}")
    if src.dtype == dst.dtype:  # no conversion (the common case: one finiteness pass)
        converted = src
    else:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            converted = src.astype(dst.dtype)
    if not np.isfinite(converted).all():  # NaN and inf stay so when converted
        if not np.isfinite(src).all():
            raise ValueError(f"{name} contains NaN or infinity")
        # e.g. 1e300 into a float32 network
        raise ValueError(f"{name} has values too large for {dst.dtype} (they would become infinity)")
    dst[...] = converted


def one_hot(labels, k):
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


def check_loss(loss, output_activation):
    """The loss's name, checked against the network's output layer; returns its code."""
    choice(loss, LOSSES, "loss")
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(f"loss 'bce' needs a 'sigmoid' output layer, this network's output is {output_activation!r}")
    if loss == "cross_entropy" and output_activation != "softmax":
        raise ValueError(f"loss 'cross_entropy' needs a 'softmax' output layer, this network's output is {output_activation!r}")
    return LOSSES[loss]


def targets(y, loss, k):
    """y as the binding expects it: 2-D (n, k); a 1-D y is one output's column,
    or class labels for cross-entropy (one-hot)."""
    y_arr = np.asarray(y)
    if y_arr.dtype.kind not in "biuf":
        raise TypeError(f"y must hold real numbers, got dtype {y_arr.dtype}")
    if y_arr.ndim == 1:
        if loss == "cross_entropy" and k > 1:
            return one_hot(y_arr, k)
        if k == 1:
            return y_arr.reshape(-1, 1)
        raise ValueError(f"y must be 2-D (n_samples, {k}) for a network with {k} outputs, got shape {y_arr.shape}")
    return y_arr


def verbosity(verbose):
    """fit's verbose: True (every epoch, 1), False (0) or an int k >= 0 (every k epochs)."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return integer(verbose, "verbose (True, False or every how many epochs)", 0)


#: Learning-rate schedules by name (a callable of the epoch is also taken).
LR_SCHEDULES = ("constant", "invscaling", "adaptive")


def lr_schedule(schedule, lr, power_t, epochs, n):
    """Each epoch's learning rate as a float64 array, or None when it is `lr`
    throughout or set as training goes ('constant', 'adaptive').  Epoch e of
    'invscaling' runs with lr / (e*n + 1)**power_t (scikit-learn's, t being
    the rows seen plus one); a callable gives epoch e's rate."""
    if callable(schedule):
        lrs = np.empty(epochs, dtype=np.float64)
        for e in range(epochs):
            lrs[e] = real(schedule(e), f"lr_schedule({e})", low=0)
        return lrs
    choice(schedule, LR_SCHEDULES, "lr_schedule (or a callable of the epoch)")
    if schedule != "invscaling":
        return None
    t = np.arange(epochs, dtype=np.float64) * n + 1
    return lr / t ** power_t


class Adaptive:
    """scikit-learn's 'adaptive' rate: divided by 5 each time the epoch loss
    has not fallen below the best by tol for more than n_iter_no_change
    epochs in a row.  step(loss) takes an epoch's loss and returns the rate
    for the next epoch."""

    def __init__(self, lr, tol=1e-4, n_iter_no_change=10):
        self.lr, self.tol, self.patience = lr, tol, n_iter_no_change
        self.best, self.count = math.inf, 0

    def step(self, loss):
        self.count = self.count + 1 if loss > self.best - self.tol else 0
        self.best = min(self.best, loss)
        if self.count > self.patience:
            self.lr /= 5.0
            self.count = 0
        return self.lr


# The activations any layer may have (not softmax, output only; not maxout,
# hidden only), to their default parameters: check_activations' common case.
_ANY_LAYER_DEFAULTS = {name: activation_default(name) for name in ACTIVATIONS
                       if name not in ("softmax", "maxout")}
