"""Fuzz target `api`: the public Network API on fuzzed shapes, data and layouts.

The input is decoded (atheris.FuzzedDataProvider) into a network (widths,
activations, bias, dtype, init, sometimes fuzzed weights), arrays X and y of
any dtype (floats, ints, bools, float16, complex, objects, lists), any layout
(C or Fortran order, strided and reversed views, transposes, views of the
network's own weight buffers), sometimes the wrong shape or non-finite, and
a sequence of calls: fit (with its options), predict, feedforward, forward,
loss, gradients, check_gradients, copy, pickling.

Each call must either succeed with the numpy reference's result
(tests/reference.py, within a tolerance scaled by the sums' magnitudes) or
raise a documented exception (ValueError, TypeError; FloatingPointError from
fit) with the network unchanged (every parameter and the optimizer state
compared to the bit; after FloatingPointError the documented restore: the
weights of the last finite epoch, unchanged when none completed).  Calls
that change nothing by contract (predict, loss, gradients, check_gradients,
copy, pickling) must leave the network unchanged when they succeed too.

Run: tests/fuzz/run.sh api SECONDS
"""
import math
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402
from fuzzlib import np, nnext  # noqa: E402

sys.path.insert(0, fuzzlib.TESTS)
import reference as ref  # noqa: E402  (tests/reference.py: numpy only)

import atheris  # noqa: E402

DOCUMENTED = (ValueError, TypeError)
OPS = ["predict", "feedforward", "forward", "loss", "gradients", "check_gradients", "fit", "fit",
       "copy", "pickle", "set_weights"]


class Skip(Exception):
    """The reference cannot judge this case (overflow, a kink, saturation)."""


# ------------------------------------------------------------------ inputs

def values(fdp, count, big=False):
    """count floats: mostly moderate, sometimes huge, zero, NaN or infinity."""
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind == 0 and big:
        return [fdp.ConsumeFloat() for _ in range(count)]  # anything, NaN and inf included
    if kind == 1:
        return [0.0] * count
    if kind == 2 and big:
        return fdp.ConsumeFloatListInRange(count, -1e6, 1e6)
    return fdp.ConsumeFloatListInRange(count, -3.0, 3.0)


def array(fdp, shape, net, big=True, labels=None):
    """An array-like of this shape (sometimes another) in a fuzzed dtype and layout."""
    shape = tuple(shape)
    choice = fdp.ConsumeIntInRange(0, 19)
    if choice == 0:  # a wrong shape
        shape = tuple(max(0, s + fdp.ConsumeIntInRange(-1, 1)) for s in shape)
    elif choice == 1:
        shape = shape + (1,)
    elif choice == 2 and len(shape) == 2:
        shape = (shape[1],) if shape[0] == 1 else shape
    count = int(np.prod(shape))
    if labels is not None and fdp.ConsumeBool():
        return np.array([fdp.ConsumeIntInRange(-1, labels) for _ in range(shape[0])]).astype(
            fdp.PickValueInList(["int64", "int32", "float64", "uint8"]))
    data = np.array(values(fdp, count, big=big), dtype=np.float64).reshape(shape)
    dtype = fdp.PickValueInList(["float64"] * 4 + ["float32"] * 2 +
                                ["int64", "int32", "bool", "float16", "complex128", "object", "list"])
    if dtype == "list":
        return data.tolist()
    with np.errstate(all="ignore"):
        if dtype in ("int64", "int32"):
            arr = np.nan_to_num(data).clip(-1e6, 1e6).astype(dtype)
        else:
            arr = data.astype(dtype)
    if arr.ndim != 2 or arr.size == 0:
        return arr
    layout = fdp.ConsumeIntInRange(0, 6)
    if layout == 1:
        return np.asfortranarray(arr)
    if layout == 2:  # every other row and column of a larger array
        big_arr = np.zeros((2 * arr.shape[0], 2 * arr.shape[1]), dtype=arr.dtype)
        big_arr[::2, ::2] = arr
        return big_arr[::2, ::2]
    if layout == 3:
        return arr[::-1, ::-1][::-1, ::-1] if fdp.ConsumeBool() else np.ascontiguousarray(arr.T).T
    if layout == 4 and arr.dtype == net.dtype and np.all(np.isfinite(arr)):
        # a view of the network's own weights (finite values only: writing NaN
        # into the weights through a view is the user's own doing)
        for w in net.weights:
            if w.size >= arr.size:
                view = w.reshape(-1)[:arr.size].reshape(arr.shape)
                view[...] = arr
                return view
    if layout == 5:
        return np.lib.stride_tricks.as_strided(arr, shape=arr.shape, strides=arr.strides)
    return arr


def float64_copy(a):
    """A float64 copy of an array-like, or None when it is not one of reals."""
    try:
        arr = np.array(a)
        if arr.dtype.kind not in "biuf":
            return None
        return arr.astype(np.float64)
    except (ValueError, TypeError):
        return None


# --------------------------------------------------------------- reference

def eps_of(net):
    return float(np.finfo(net.dtype).eps)


def magnitudes(weights, biases, X):
    """Per layer, |a| @ |W| + |b|: what each pre-activation's rounding scales with."""
    a = np.abs(X)
    mags = []
    for l, W in enumerate(weights):
        m = a @ np.abs(W) + (np.abs(biases[l]) if biases is not None else 0)
        mags.append(m)
        a = np.maximum(m, 1.0)  # activations are 1-Lipschitz; sigmoid/tanh/softmax <= 1
    return mags


def reference_layers(net, params, X):
    """(layers l0..lL in float64, bound on the float error of the last one);
    raises Skip where the reference cannot judge."""
    weights, biases = params
    Xr = np.asarray(X, dtype=np.float64)
    if Xr.ndim == 1:
        Xr = Xr.reshape(1, -1)
    Xr = Xr.astype(net.dtype).astype(np.float64)  # what the network sees
    with np.errstate(all="ignore"):
        layers = ref.forward(weights, biases, net.activations, Xr)
        mags = magnitudes(weights, biases, Xr)
    if not all(np.all(np.isfinite(a)) for a in layers) or not np.all(np.isfinite(mags[-1])):
        raise Skip("overflow")
    if max(float(np.max(m, initial=0)) for m in mags) > float(np.finfo(net.dtype).max) / 1e6:
        raise Skip("overflow in the network's dtype")
    depth, width = len(weights), max(net.sizes) + 2
    eps = eps_of(net)
    zs = []
    a = Xr
    for l, W in enumerate(weights):
        z = a @ W + (biases[l] if biases is not None else 0)
        zs.append(z)
        a = layers[l + 1]
        tol_z = 64 * eps * width * depth * (mags[l] + 1)
        act = net.activations[l]
        if act in ("relu", "leaky_relu") and np.any(np.abs(z) <= tol_z):
            raise Skip("a kink")
    bound = [64 * eps * width * depth * (np.maximum(m, 1.0).max(axis=1, keepdims=True) + 1) for m in mags]
    return layers, bound


def check_slopes(net, layers):
    """Skip where an activation's slope, which the core computes from its
    output (sigmoid a(1-a), tanh 1-a^2, elu a+1, softmax p(1-p)), is so small
    that the output's rounding is a large part of it: gradients there are
    relatively inexact by nature."""
    for l, act in enumerate(net.activations):
        a = layers[l + 1]
        if act in ("sigmoid", "softmax"):
            slope = a * (1 - a)
        elif act == "tanh":
            slope = 1 - a * a
        elif act == "elu":
            slope = np.where(a > 0, 1.0, a + 1)
        else:
            continue
        if np.any(slope < 1e-3):
            raise Skip("saturation")


def gradient_magnitudes(net, params, X, Y, loss):
    """Backpropagation with every factor's absolute value, and every value
    grown by the magnitude of the sums it came from: per gradient entry, what
    its rounding error scales with (a gradient that cancels to almost nothing,
    or an output p close to its target y, is judged by its terms)."""
    weights, biases = params
    acts = net.activations
    zs, outs = ref._forward_with_z(weights, biases, acts, X)
    mags = magnitudes(weights, biases, X)  # per layer |a| @ |W| + |b|
    # |a_l| and the size of its rounding: a_0 = X exact, a_l from sums of mags[l-1]
    a_mag = [np.abs(X)] + [np.abs(o) + m for o, m in zip(outs[1:], mags)]
    p = outs[-1]
    n, k = p.shape
    spread = np.abs(p) + np.abs(Y) + mags[-1]  # what p - y is computed from
    if loss in ("mse", "sse"):
        dp = spread * (2 / (n * k) if loss == "mse" else 1.0)
    else:
        dp = np.abs(ref.loss_grad(loss, p, Y)) * (1 + mags[-1])
    if (loss == "bce" and acts[-1] == "sigmoid") or (loss == "cross_entropy" and acts[-1] == "softmax"):
        delta = spread / (n * k if loss == "bce" else n)
    elif acts[-1] == "softmax":
        delta = p * (dp + np.sum(dp * p, axis=1, keepdims=True))
    else:
        delta = dp * np.abs(ref.activation_backward(acts[-1], zs[-1], p, np.ones_like(p)))
    grads = [None] * (2 * len(weights))
    for l in range(len(weights) - 1, -1, -1):
        grads[l] = a_mag[l].T @ delta
        grads[len(weights) + l] = delta.sum(axis=0)
        if l:
            delta = (delta @ np.abs(weights[l]).T) * \
                np.abs(ref.activation_backward(acts[l - 1], zs[l - 1], outs[l], np.ones_like(outs[l])))
    return grads[:len(weights)] + (grads[len(weights):] if biases is not None else [])


def close(got, want, bound, what):
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, reference {want.shape}")
    err = np.abs(got - want)
    if not np.all(err <= bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        raise AssertionError(f"{what}: {got[i]!r} against the reference's {want[i]!r} "
                             f"(bound {np.broadcast_to(bound, err.shape)[i]:.3g})")


def net_params(net):
    return ([w.astype(np.float64) for w in net.weights],
            None if net.biases is None else [b.astype(np.float64) for b in net.biases])


def targets(fdp, net, n):
    """(y as passed, loss name)."""
    k = net.sizes[-1]
    out = net.activations[-1]
    losses = ["mse", "sse"] + (["bce"] if out == "sigmoid" else []) + \
        (["cross_entropy"] if out == "softmax" else [])
    loss = fdp.PickValueInList(losses + (["bogus", "cross_entropy", "bce"] if fdp.ConsumeIntInRange(0, 9) == 0 else []))
    if loss in ("bce", "cross_entropy") and fdp.ConsumeIntInRange(0, 3):
        # in range: probabilities, or one-hot rows / labels
        if loss == "bce":
            y = np.array(fdp.ConsumeFloatListInRange(n * k, 0.0, 1.0)).reshape(n, k)
        elif fdp.ConsumeBool() and k > 1:
            y = np.array([fdp.ConsumeIntInRange(0, k - 1) for _ in range(n)])
        else:
            y = np.eye(k)[[fdp.ConsumeIntInRange(0, k - 1) for _ in range(n)]]
        return y, loss
    return array(fdp, (n, k), net, big=False, labels=k), loss


def ref_targets(y, loss, k):
    Y = float64_copy(y)
    if Y is None:
        raise Skip("targets")
    return ref.prepare_targets(Y, k, loss)


def loss_bound(loss, p, Y, bound, value, eps):
    n, k = p.shape
    with np.errstate(all="ignore"):
        dldp = np.abs(ref.loss_grad(loss, p, Y))
    if not np.all(np.isfinite(dldp)):
        raise Skip("log at 0")
    # first order, plus the square of p's error where p is about y (mse, sse)
    # (only for those: 0 * an overflowed square was NaN, and a NaN bound fails every comparison)
    coefficient = {"mse": 1.0 / (n * k), "sse": 0.5}.get(loss, 0.0)
    with np.errstate(all="ignore"):
        second = coefficient * float(np.sum((2 * bound) ** 2)) if coefficient else 0.0
        b = float(np.sum(dldp * 2 * bound)) + second + 64 * eps * (n * k + 2) * (abs(value) + 1e-300) + 1e-300
    if not math.isfinite(b):
        raise Skip("the error bound overflows")
    return b


def check_output_edges(loss, p, net):
    if loss in ("bce", "cross_entropy"):
        edge = 1e-3 if net.dtype == np.float32 else 1e-9
        if np.any(p < edge) or (loss == "bce" and np.any(p > 1 - edge)):
            raise Skip("log near 0")


# --------------------------------------------------------------- the calls

class ReferenceRefused(Exception):
    pass


def run_call(fdp, net, op, X, y, loss, n):
    """op on net; the reference's judgement of a successful call raises
    AssertionError or Skip (and never a documented exception: nnext accepting
    what the reference cannot compute is itself a failure)."""
    try:
        _run_call(fdp, net, op, X, y, loss, n)
    except ReferenceRefused as e:
        raise AssertionError(f"{op} accepted an input the reference refuses: {e.__cause__!r}") from e


def reference(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError, IndexError) as e:
        raise ReferenceRefused() from e


def _run_call(fdp, net, op, X, y, loss, n):
    eps = eps_of(net)
    params = net_params(net)
    if op in ("predict", "feedforward"):
        out = getattr(net, op)(X)
        layers, bound = reference(reference_layers, net, params, X)
        want = layers[-1]
        got = np.asarray(out, dtype=np.float64)
        if np.ndim(X) == 1 or (op == "feedforward" and np.ndim(got) == 0):
            got = got.reshape(want.shape)
        close(got, want, bound[-1], op)
    elif op == "forward":
        out = net.forward(X)
        layers, bound = reference(reference_layers, net, params, X)
        if len(out) != len(layers):
            raise AssertionError("forward: wrong number of layers")
        for l in range(1, len(layers)):
            close(np.asarray(out[l], dtype=np.float64).reshape(layers[l].shape), layers[l],
                  bound[l - 1], f"forward layer {l}")
    elif op in ("loss", "gradients"):
        result = getattr(net, op)(X, y, loss=loss)
        layers, bound = reference(reference_layers, net, params, X)
        Y = reference(ref_targets, y, loss, net.sizes[-1])
        p = layers[-1]
        if op == "gradients":
            check_slopes(net, layers)
        check_output_edges(loss, p, net)
        with np.errstate(all="ignore"):
            value, dW, db = ref.loss_and_gradients(params[0], params[1], net.activations,
                                                   layers[0], Y, loss)
        if not math.isfinite(value):
            raise Skip("loss overflow")
        with np.errstate(all="ignore"):
            terms = float(np.max(np.abs(Y - p))) ** 2 * p.size
        if not terms < float(np.finfo(net.dtype).max) / 1e6:  # the loss's sum in the network's dtype
            raise Skip("loss overflow in the network's dtype")
        if op == "loss":
            b = loss_bound(loss, p, Y, bound[-1], value, eps)
            if not abs(result - value) <= b:
                raise AssertionError(f"loss {loss}: {result!r} against the reference's {value!r} (bound {b:.3g})")
        else:
            got_dW, got_db = result
            want = list(dW) + (list(db) if db is not None else [])
            got = list(got_dW) + (list(got_db) if got_db is not None else [])
            if len(got) != len(want):
                raise AssertionError("gradients: wrong number of arrays")
            with np.errstate(all="ignore"):
                mags = gradient_magnitudes(net, params, layers[0], Y, loss)
            if not all(float(np.max(m, initial=0)) < float(np.finfo(net.dtype).max) / 1e6 for m in mags):
                raise Skip("gradient overflow in the network's dtype")
            factor = 64 * eps * (max(net.sizes) + n + 2) * len(net.sizes)
            for i, (g, w, m) in enumerate(zip(got, want, mags)):
                close(g, w, factor * m + 1e-300, f"gradient {i} ({loss})")
    elif op == "check_gradients":
        result = net.check_gradients(X, y, loss=loss, samples=fdp.ConsumeIntInRange(1, 3),
                                     seed=fdp.ConsumeIntInRange(0, 3))
        if not hasattr(result, "max_error"):
            raise AssertionError("check_gradients returned no GradientCheck")
    elif op == "copy":
        twin = net.copy()
        if not fuzzlib.same_parameters(fuzzlib.parameters(twin), fuzzlib.parameters(net)):
            raise AssertionError("copy differs")
        before = fuzzlib.parameters(net)
        twin.weights[0][...] += 1
        if not fuzzlib.same_parameters(before, fuzzlib.parameters(net)):
            raise AssertionError("changing a copy changed the original")
    elif op == "pickle":
        twin = pickle.loads(pickle.dumps(net, protocol=fdp.ConsumeIntInRange(2, pickle.HIGHEST_PROTOCOL)))
        if not fuzzlib.same_parameters(fuzzlib.parameters(twin), fuzzlib.parameters(net)):
            raise AssertionError("pickle round trip differs")
    elif op == "set_weights":
        new = X  # arrays drawn before the network was snapshot (they may be views of it)
        with np.errstate(all="ignore"):
            wants = [float64_copy(src) for src in new]  # before: a view changes with the network
        net.weights = new
        for w, want in zip(net.weights, wants):
            if want is None or not np.array_equal(w, want.astype(net.dtype)):
                raise AssertionError("weights not copied in as given")
    elif op == "fit":
        run_fit(fdp, net, X, y, loss, n)


def run_fit(fdp, net, X, y, loss, n):
    kw = {}
    optimizer = fdp.PickValueInList(["sgd", "adam", "sgd", "nadam"])
    kw["optimizer"] = optimizer
    kw["epochs"] = fdp.ConsumeIntInRange(-1, 4)
    kw["lr"] = fdp.PickValueInList([0.1, 0.5, 1.0, 0.01, 1e3, 1e30, -1.0, float("nan")])
    if fdp.ConsumeBool():
        kw["batch_size"] = fdp.ConsumeIntInRange(0, n + 1)
    if fdp.ConsumeIntInRange(0, 3) == 0:
        kw["momentum"] = fdp.PickValueInList([0.5, 0.9, 1.0, -0.1])
        kw["nesterov"] = fdp.ConsumeBool()
    if fdp.ConsumeIntInRange(0, 3) == 0:
        kw["l2"] = fdp.PickValueInList([1e-3, 0.1, -1.0])
    if fdp.ConsumeIntInRange(0, 5) == 0:
        kw["l1"] = fdp.PickValueInList([1e-4, 0.01])
    if optimizer == "adam" and fdp.ConsumeBool():
        kw["beta1"] = fdp.PickValueInList([0.0, 0.5, 0.99])
        kw["beta2"] = fdp.PickValueInList([0.9, 0.999, 1.0])
    extras = fdp.ConsumeIntInRange(0, 15)
    if extras == 1:
        kw["shuffle"], kw["seed"] = True, fdp.ConsumeIntInRange(0, 5)
    elif extras == 2:
        kw["validation_data"] = (X, y)
        kw["early_stopping"] = fdp.ConsumeIntInRange(0, 2)
    elif extras == 3:
        kw["trace_every"] = fdp.ConsumeIntInRange(0, 2)
    elif extras == 4:
        kw["lr_schedule"] = fdp.PickValueInList(["invscaling", "adaptive", "constant", "bogus"])
    elif extras == 5:
        kw["callback"] = lambda epoch, network, value: epoch < 1
    simple = extras not in (1, 2, 4, 5)  # what reference.fit computes too
    had_state = net.__getstate__()["opt"] is not None
    params = net_params(net)
    X64 = float64_copy(X)
    y_before = np.array(y, copy=True) if isinstance(y, np.ndarray) else y  # X, y may be views of the weights
    history = net.fit(X, y, loss=loss, **kw)
    if len(history.loss) > max(kw["epochs"], 0) or not all(math.isfinite(v) for v in history.loss):
        raise AssertionError(f"fit's history: {history.loss}")
    for w in net.weights:
        if not np.all(np.isfinite(w)):
            raise AssertionError("fit left non-finite weights")
    if not simple or had_state or X64 is None or len(history.loss) != kw["epochs"]:
        return
    # the reference judges tame runs: a moderate rate; with Adam only the first
    # epoch's loss (its step m / (sqrt(v) + eps) turns the rounding of a tiny
    # gradient into a step of about lr, so later weights are not comparable)
    if not 0 < kw["lr"] <= 1:
        return
    # the reference: the same steps in float64
    layers, _ = reference(reference_layers, net, params, X64)
    Y = reference(ref_targets, y_before, loss, net.sizes[-1])
    check_output_edges(loss, layers[-1], net)
    check_slopes(net, layers)
    opts = {k: kw[k] for k in ("batch_size", "momentum", "nesterov", "l2", "l1", "beta1", "beta2") if k in kw}
    with np.errstate(all="ignore"):
        W, b, hist = ref.fit(params[0], params[1], net.activations, layers[0], Y, kw["epochs"], kw["lr"],
                             loss=loss, optimizer=optimizer, **opts)
    if not all(np.all(np.isfinite(w)) for w in W) or not all(math.isfinite(h) for h in hist):
        raise Skip("reference overflow")
    if optimizer == "adam":
        if hist and kw.get("batch_size", n) >= n:  # one batch: its loss is before any update
            close(np.array(history.loss[:1]), np.array(hist[:1]), 1e3 * eps_of(net) * (1 + abs(hist[0])) * max(net.sizes) * n,
                  f"fit's first loss ({loss}, {kw})")
        return
    # where the run ended must be smooth too (no kink or saturation crossed near the end)
    end = reference_layers(net, (W, b), X64)[0]
    check_slopes(net, end)
    scale = max(max(float(np.max(np.abs(w))) for w in W), 1.0)
    tol = (1e-7 if net.dtype == np.float64 else 1e-3) * scale * kw["epochs"]
    for l, w in enumerate(W):
        close(net.weights[l], w, tol, f"fit weights[{l}] ({loss}, {kw})")
    if b is not None:
        for l, v in enumerate(b):
            close(net.biases[l], v, tol, f"fit biases[{l}] ({loss}, {kw})")
    close(np.array(history.loss), np.array(hist), tol * 10 * (1 + np.abs(np.array(hist))), f"fit history ({loss}, {kw})")


def test_one_input(data):
    with fuzzlib.keep_failing_input(data):
        one_input(data)


def one_input(data):
    fdp = atheris.FuzzedDataProvider(data)
    n_layers = fdp.ConsumeIntInRange(1, 3)
    sizes = [fdp.ConsumeIntInRange(1, 6) for _ in range(n_layers + 1)]
    # (maxout is left out here: this target's error bounds propagate |a| @ |W|
    # layer by layer at the layers' own widths, which maxout's m*k columns do
    # not fit yet; tests/test_activation_params.py holds maxout to the reference)
    acts = [fdp.PickValueInList(fuzzlib.HIDDEN_NO_MAXOUT) for _ in range(n_layers - 1)] + \
        [fdp.PickValueInList(fuzzlib.OUTPUT)]
    dtype = fdp.PickValueInList(fuzzlib.DTYPES)
    net = nnext.Network(sizes, activation=acts if fdp.ConsumeBool() or len(set(acts)) > 1 else acts[0],
                        bias=fdp.ConsumeBool(), dtype=dtype,
                        init=fdp.PickValueInList(list(nnext.INITS)), seed=fdp.ConsumeIntInRange(0, 99))
    if fdp.ConsumeIntInRange(0, 3) == 0:  # weights of any size
        try:
            net.weights = [np.array(values(fdp, w.size, big=True)).reshape(w.shape) for w in net.weights]
        except ValueError:
            pass
    n = fdp.ConsumeIntInRange(1, 8)
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        op = fdp.PickValueInList(OPS)
        shape = (n, sizes[0]) if fdp.ConsumeIntInRange(0, 7) else (sizes[0],)
        # every array first: some are views of the network's weights, written here
        if op == "set_weights":
            X = [array(fdp, w.shape, net) for w in net.weights]
        else:
            X = array(fdp, shape, net)
        y, loss = targets(fdp, net, n)
        before = fuzzlib.parameters(net)
        try:
            run_call(fdp, net, op, X, y, loss, n)
        except Skip:
            pass
        except FloatingPointError as e:
            if op != "fit":
                raise
            after = fuzzlib.parameters(net)
            if not np.all(np.isfinite(after[4])):
                raise AssertionError("FloatingPointError left non-finite parameters") from e
            if not e.history.loss and not fuzzlib.same_parameters(before[:5] + (None,), after[:5] + (None,)):
                raise AssertionError("FloatingPointError before any epoch changed the weights") from e
        except DOCUMENTED:
            if not fuzzlib.same_parameters(before, fuzzlib.parameters(net)):
                raise AssertionError(f"{op} raised but changed the network")
        else:
            if op not in ("fit", "set_weights") and not fuzzlib.same_parameters(before, fuzzlib.parameters(net)):
                # (a view of the weights as X is written before the call, by `array`)
                raise AssertionError(f"{op} changed the network")


if __name__ == "__main__":
    fuzzlib.main(test_one_input)
