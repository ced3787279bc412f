"""Argument checking for the friendly API: every check that names the
argument, what was expected and what came.  The C binding checks arrays
(shape, dtype, finiteness); this module checks everything else once, before
anything changes."""

import difflib
import inspect
import math
import operator
import sys
from typing import Any, Callable, TypeVar

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
    try:
        value = float(value)
    except OverflowError:  # an int beyond float's range (10**400): as infinite as inf
        shown = f"an integer of {value.bit_length()} bits" if value.bit_length() > 64 else repr(value)
        raise ValueError(f"{what} must be a finite number{_range_text(low, high, low_open, high_open)}, "
                         f"got {shown}, too large for a float") from None
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise ValueError(f"{what} must be a finite number{_range_text(low, high, low_open, high_open)}, "
                         f"got {value!r}")
    return value


def _range_text(low, high, low_open, high_open):
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    return f" in {lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"


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
        dense = sparse_to_dense(y)  # (checked only here, on the way to an error)
        if dense is None:
            raise TypeError(_not_numbers("y", y_arr, labels=True))
        y_arr = dense
    if y_arr.ndim == 1:
        if loss == "cross_entropy" and k > 1:
            return one_hot(y_arr, k)
        if k == 1:
            return y_arr.reshape(-1, 1)
        raise ValueError(_one_d_targets(y_arr, loss, k))
    return y_arr


def _not_numbers(name, arr, labels=False):
    """The message for `name` holding something other than real numbers
    (strings, objects, complex numbers): what it holds, and what to do."""
    got = f"{name} must hold real numbers, got dtype {arr.dtype}"
    kind, example = arr.dtype.kind, ""
    if arr.size:
        first = arr.flat[0]
        first = first.item() if isinstance(first, np.generic) else first
        example = f", e.g. {first!r}"
        if kind == "O":  # a list or object array: strings inside?
            kind = "U" if isinstance(first, str) else "S" if isinstance(first, bytes) else "O"
    if kind in "US" and labels:
        return (f"{got} (strings{example}): a Network trains on numbers. Encode "
                f"class labels as integers 0..k-1, e.g. classes, y = np.unique(y, "
                f"return_inverse=True), and train a softmax output with loss='cross_entropy' "
                f"(or one-hot them, np.eye(len(classes))[y]); or use "
                f"nnext.sklearn.MLPClassifier, which takes any labels")
    if kind in "US":
        return (f"{got} (strings{example}): a Network computes on numbers; "
                f"encode text or categories as numbers first (e.g. "
                f"sklearn.preprocessing.OneHotEncoder), or convert numeric strings with "
                f"np.asarray({name}, dtype=float)")
    if kind == "c":
        return f"{got} (complex numbers): pass the real part ({name}.real) or real features"
    return got


def _one_d_targets(y_arr, loss, k):
    """The message for a 1-D y given to a network of k > 1 outputs with a loss
    that takes no class labels."""
    msg = (f"y must be 2-D (n_samples, {k}) for a network with {k} outputs (sizes[-1] is {k}), "
           f"got shape {y_arr.shape}")
    whole = y_arr.dtype.kind in "biu" or (y_arr.dtype.kind == "f" and y_arr.size
                                            and np.all(y_arr == np.round(y_arr)))
    if whole and y_arr.size and y_arr.min() >= 0 and y_arr.max() < k:
        return (f"{msg}. If y holds class labels 0..{k - 1}: one-hot them for loss={loss!r}, "
                f"np.eye({k})[y] of shape ({y_arr.shape[0]}, {k}), or better, use a softmax "
                f"output with loss='cross_entropy', which takes labels of shape (n,) as they are "
                f"(see 'Recommended settings' in help(nnext.Network))")
    return f"{msg}: pass y with {k} columns, or build the network with 1 output"


def sparse_to_dense(a):
    """A scipy sparse matrix or array as a dense ndarray; None for anything
    else.  (Nothing imports scipy here: an object can only be one of its
    sparse matrices once scipy.sparse is loaded.)"""
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(a):
        return a.toarray()
    return None


def _as_array(a):
    """np.asarray(a), or None when numpy cannot make an array of it."""
    try:
        return np.asarray(a)
    except Exception:  # a ragged list: the binding's own message says so
        return None


def _width_message(name, arr, n_in, rebuild=True):
    """The message for `name` (2-D, or one sample) of the wrong width for a
    network of input width n_in; None when its width is right.  rebuild:
    suggest a network of X's width too (not for a validation set, which
    must match the training data)."""
    if arr.ndim == 1:
        if arr.shape[0] == n_in:
            return None
        msg = (f"the network's input width sizes[0] is {n_in}; {name} is one sample of "
               f"{arr.shape[0]} values (shape {arr.shape}): pass {n_in} values (or rows of "
               f"{n_in} columns)")
        cols = arr.shape[0]
    elif arr.ndim != 2 or arr.shape[1] == n_in:
        return None
    else:
        cols = arr.shape[1]
        msg = (f"the network's input width sizes[0] is {n_in}; {name} has {cols} column"
               f"{'s' if cols != 1 else ''} (shape {arr.shape}): pass {name} with {n_in} columns")
    if rebuild:
        msg += f", or build Network([{cols}, ...]) for {cols} input features"
    return msg


def input_error(X, n_in, name="X"):
    """For an input X that the binding refused (predict, forward): a dense
    copy when X is a scipy sparse matrix, to try again; otherwise raises a
    clearer error when there is one to give, else returns None (the caller
    re-raises the binding's own)."""
    dense = sparse_to_dense(X)
    if dense is not None:
        return dense
    arr = _as_array(X)
    if arr is None:
        return None
    if arr.dtype.kind not in "biuf":
        raise TypeError(_not_numbers(name, arr))
    msg = _width_message(name, arr, n_in)
    if msg is not None:
        raise ValueError(msg)
    return None


def data_error(X, y, Y, sizes, dtype, loss, names=("X", "y")):
    """For a pair (X, y) that the binding refused: a dense copy of X when it
    is a scipy sparse matrix, to try again; otherwise raises a clearer error
    when there is one to give, else returns None (the caller re-raises the
    binding's own).  Y is y as `targets` made it.  X is looked at first, in
    the binding's order (dtype, shape, rows, finite values in `dtype`): y's
    shape is explained only when X passed all of it."""
    dense = sparse_to_dense(X)
    if dense is not None:
        return dense
    arr = _as_array(X)
    if arr is None:
        return None
    x_name, y_name = names
    if arr.dtype.kind not in "biuf":
        raise TypeError(_not_numbers(x_name, arr))
    n_in, k = sizes[0], sizes[-1]
    if arr.ndim != 2:
        if arr.ndim == 1 and n_in == 1:
            raise ValueError(f"{x_name} must be 2-D (n_samples, 1), got shape {arr.shape}: one "
                             f"feature per row goes as a column, {x_name}.reshape(-1, 1)")
        return None
    training = names == ("X", "y")
    msg = _width_message(x_name, arr, n_in, rebuild=training)
    if msg is not None:
        raise ValueError(msg)
    if Y.ndim != 2 or arr.shape[0] == 0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isfinite(arr.astype(dtype)).all():
            return None  # the binding's message: NaN, infinity or too large
    n, (rows, cols) = arr.shape[0], Y.shape
    outputs = f"{k} output{'s' if k != 1 else ''}"
    if cols != k or rows != n:
        transposed = f"{y_name}.T" if isinstance(y, np.ndarray) else f"np.asarray({y_name}).T"
        if (rows, cols) == (k, n) and n != k:
            one_row = f"{y_name} is one row; " if rows == 1 else f"{y_name} looks transposed; "
            raise ValueError(f"{y_name} has shape {Y.shape} but {x_name} has {n} rows and the "
                             f"network {outputs}: {one_row}did you mean {transposed}, shape "
                             f"{(n, k)}?")
    if cols == k:
        return None  # rows that differ: the binding's message shows both shapes
    msg = (f"{y_name} has shape {Y.shape} but the network has {outputs} (sizes[-1] is {k}), so "
           f"{y_name} needs shape ({n}, {k})")
    if cols == 1 and k > 1 and loss == "cross_entropy":
        raise ValueError(f"{msg}: with loss='cross_entropy', integer class labels go as shape "
                         f"(n,), {y_name}.ravel() of shape ({rows},), and one-hot targets as "
                         f"(n, {k})")
    if cols == 1 and k > 1:
        raise ValueError(f"{msg}: if {y_name} holds class labels 0..{k - 1}, one-hot them, "
                         f"np.eye({k})[{y_name}.ravel()], or better, use a softmax output with "
                         f"loss='cross_entropy', which takes labels of shape (n,) (see "
                         f"'Recommended settings' in help(nnext.Network))")
    rebuild = f", or build the network with {cols} outputs (Network([..., {cols}]))"
    raise ValueError(f"{msg}: pass {y_name} with {k} columns{rebuild if training else ''}")


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


# ------------------------------------------------------ keyword arguments

#: What other libraries (Keras, scikit-learn, PyTorch) and tutorials call
#: nnext's arguments, to nnext's names: an unexpected keyword argument of
#: `Network()` or `Network.fit` is most likely one of these.  A name may
#: stand for more than one (scikit-learn's alpha is its L2 penalty, the
#: tutorials' is the learning rate).
ALIASES = {
    # Network.fit
    "learning_rate": ("lr",), "learning_rate_init": ("lr",), "learningrate": ("lr",),
    "eta": ("lr",), "step_size": ("lr",), "lr_init": ("lr",), "base_lr": ("lr",),
    "alpha": ("lr", "l2"),
    "epoch": ("epochs",), "n_epochs": ("epochs",), "num_epochs": ("epochs",),
    "nb_epoch": ("epochs",), "nb_epochs": ("epochs",), "max_epochs": ("epochs",),
    "max_iter": ("epochs",), "n_iter": ("epochs",), "n_iters": ("epochs",),
    "num_iters": ("epochs",), "iterations": ("epochs",), "iters": ("epochs",),
    "n_iterations": ("epochs",), "num_iterations": ("epochs",),
    "batch": ("batch_size",), "bs": ("batch_size",), "batchsize": ("batch_size",),
    "minibatch": ("batch_size",), "minibatch_size": ("batch_size",),
    "mini_batch_size": ("batch_size",), "n_batch": ("batch_size",),
    "validation_split": ("validation_data",), "validation_fraction": ("validation_data",),
    "val_data": ("validation_data",), "valid_data": ("validation_data",),
    "validation": ("validation_data",), "eval_set": ("validation_data",),
    "callbacks": ("callback",),
    "optim": ("optimizer",), "opt": ("optimizer",), "solver": ("optimizer",),
    "random_state": ("seed",), "random_seed": ("seed",), "rng": ("seed",),
    "verbosity": ("verbose",),
    "beta_1": ("beta1",), "beta_2": ("beta2",), "epsilon": ("eps",),
    "weight_decay": ("l2",), "l2_reg": ("l2",), "l2_penalty": ("l2",), "reg_lambda": ("l2",),
    "lambda_": ("l2",), "lambd": ("l2",), "lmbda": ("l2",),
    "l1_reg": ("l1",), "l1_penalty": ("l1",), "reg_alpha": ("l1",),
    "nesterovs_momentum": ("nesterov",), "use_nesterov": ("nesterov",),
    "lr_scheduler": ("lr_schedule",), "scheduler": ("lr_schedule",),
    "schedule": ("lr_schedule",), "learning_rate_schedule": ("lr_schedule",),
    "patience": ("early_stopping",), "n_iter_no_change": ("early_stopping",),
    "progress_bar": ("progress",), "show_progress": ("progress",), "tqdm": ("progress",),
    "pbar": ("progress",),
    "loss_fn": ("loss",), "loss_function": ("loss",), "criterion": ("loss",),
    "objective": ("loss",), "cost": ("loss",), "cost_function": ("loss",),
    "trace": ("trace_every",),
    "x": ("X",), "inputs": ("X",), "features": ("X",),
    "targets": ("y",), "target": ("y",), "labels": ("y",), "y_true": ("y",),
    # Network()
    "layers": ("sizes",), "layer_sizes": ("sizes",), "hidden_layer_sizes": ("sizes",),
    "shape": ("sizes",), "architecture": ("sizes",), "dims": ("sizes",),
    "activations": ("activation",), "act": ("activation",), "act_fn": ("activation",),
    "activation_function": ("activation",), "nonlinearity": ("activation",),
    "init_method": ("init",), "initializer": ("init",), "initialization": ("init",),
    "kernel_initializer": ("init",), "weight_init": ("init",), "weights_init": ("init",),
    "use_bias": ("bias",), "fit_intercept": ("bias",),
    "precision": ("dtype",),
}

#: What to add when suggesting an alias's nnext name: where nnext's
#: argument differs in kind from the other library's.
_ALIAS_NOTES = {
    "validation_split": "nnext takes the held-out set itself, validation_data=(X_val, y_val), "
                        "e.g. from sklearn.model_selection.train_test_split",
    "validation_fraction": "nnext takes the held-out set itself, validation_data=(X_val, y_val), "
                           "e.g. from sklearn.model_selection.train_test_split",
    "validation": "validation_data=(X_val, y_val)",
    "callbacks": "one callable, callback(epoch, net, loss), called after every epoch; "
                 "returning False stops training",
    "alpha": "lr is the learning rate, l2 the L2 penalty that scikit-learn calls alpha",
    "hidden_layer_sizes": "sizes lists every width, input and output included: "
                          "Network([n_features, *hidden, n_outputs])",
    "patience": "early_stopping=patience in epochs, with validation_data",
    "n_iter_no_change": "early_stopping=patience in epochs, with validation_data",
}


def _suggestions(name, value, own, other):
    """``(names, note)``: nnext's names that keyword `name` (given `value`)
    most likely means, in order: its aliases, the same name in other case,
    a close spelling; and what to add about them (or None)."""
    if name == "learning_rate" and isinstance(value, str):
        return ["lr_schedule"], ("scikit-learn's learning_rate names the schedule, as nnext's "
                                 "lr_schedule does; the rate itself is lr")
    if name in ALIASES:
        return list(ALIASES[name]), _ALIAS_NOTES.get(name)
    names = list(own) + [n for n in other if n not in own]
    same = [n for n in names if n.lower() == name.lower()]
    if same:
        return same, None
    return difflib.get_close_matches(name, names, n=1, cutoff=0.75), None


def unexpected_keywords(where, unexpected, functions):
    """The TypeError for keyword arguments `unexpected` (a dict) given to
    `where`, one of `functions`: ``{label: (parameter names, how to call it,
    with "{}" for a name)}``.  Each name gets nnext's likely meaning: the
    same function's argument ("did you mean lr?"), or where it belongs when
    another of `functions` takes it."""
    own = functions[where][0]
    other = [n for label, (names, _) in functions.items() if label != where for n in names]
    hints = []
    for name, value in unexpected.items():
        found, note = _suggestions(name, value, own, other)
        mine = [real for real in found if real in own]
        parts = [f"did you mean {' or '.join(mine)}?"] if mine else []
        for real in found:
            label = next((lb for lb, (names, _) in functions.items() if real in names), None)
            if real not in own and label is not None:
                parts.append(f"{real} is an argument of {label}, not {where}: "
                             f"{functions[label][1].format(real)}")
        if parts and note:
            parts.append(f"({note})")
        if not parts:
            parts.append(f"the arguments of {where} are {', '.join(own)}")
        hints.append((name, " ".join(parts)))
    if len(hints) == 1:
        return TypeError(f"{where} got an unexpected keyword argument {hints[0][0]!r}: {hints[0][1]}")
    return TypeError(f"{where} got unexpected keyword arguments: "
                     + "; ".join(f"{name!r}: {hint}" for name, hint in hints))


_F = TypeVar("_F", bound=Callable[..., Any])


def signature_without_unexpected(func: _F) -> _F:
    """Decorator for a function whose ``*args`` / ``**kwargs`` parameters only
    collect arguments to refuse with a clear message (`unexpected_keywords`):
    its signature (help(), inspect.signature) shows the real parameters only."""
    sig = inspect.signature(func)
    shown = [p for p in sig.parameters.values()
             if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    func.__signature__ = sig.replace(parameters=shown)  # type: ignore[attr-defined]
    return func
