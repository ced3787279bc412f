"""Property tests (hypothesis): random networks, inputs, dtypes, memory layouts
and values (NaN, inf, huge, tiny, subnormal, -0.0).  Every call either matches
the numpy reference (tests/reference.py) within a rounding-error bound, or
raises a clear TypeError / ValueError / FloatingPointError; inputs are never
modified; a call that raises leaves the weights untouched.

Settings are bounded and derandomized so that CI is reproducible; set
NNEXT_HYPOTHESIS_EXAMPLES (and NNEXT_HYPOTHESIS_RANDOM=1) to explore more.
"""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import reference as R  # noqa: E402
from conftest import assert_same_params, snapshot  # noqa: E402
from nnext import Network  # noqa: E402

EXAMPLES = int(os.environ.get("NNEXT_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    derandomize=not os.environ.get("NNEXT_HYPOTHESIS_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

HIDDEN = list(R.HIDDEN_ACTIVATIONS)
OUTPUT = HIDDEN + ["softmax"]
INPUT_DTYPES = ["float64", "float32", "float16", "longdouble", "int8", "int32", "int64",
                "uint8", "bool"]
LAYOUTS = ["C", "F", "strided", "reversed", "byteswapped", "unaligned", "readonly", "list"]

EXTREME = [np.nan, np.inf, -np.inf, 1e300, -1e300, 3e38, -3e38, 1e-300, 5e-324, -5e-324,
           1e-40, 1e-45, -0.0, 0.0, 65504.0, 1e5]


# ------------------------------------------------------------------ strategies

@st.composite
def networks(draw, max_layers=3, max_width=6, output=None):
    n_layers = draw(st.integers(1, max_layers))
    sizes = [draw(st.integers(1, max_width)) for _ in range(n_layers + 1)]
    acts = [draw(st.sampled_from(HIDDEN)) for _ in range(n_layers - 1)]
    acts.append(output if output is not None else draw(st.sampled_from(OUTPUT)))
    if acts[-1] == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    bias = draw(st.booleans())
    dtype = draw(st.sampled_from(["float64", "float32"]))
    init = draw(st.sampled_from(["uniform", "normal", "xavier", "he"]))
    seed = draw(st.integers(0, 2**16))
    net = Network(sizes, activation=acts, bias=bias, dtype=dtype, init=init, seed=seed)
    if bias:  # non-zero biases, so that they are exercised
        rs = np.random.RandomState(seed + 1)
        net.biases = [rs.uniform(-1, 1, b.shape) for b in net.biases]
    return net


def values(extreme):
    normal = st.floats(-4, 4, allow_nan=False, allow_infinity=False, allow_subnormal=True)
    if not extreme:
        return st.one_of(normal, st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e-40, 1e-45, 1.0]))
    return st.one_of(normal, st.sampled_from(EXTREME),
                     st.floats(allow_nan=True, allow_infinity=True, width=64))


@st.composite
def matrices(draw, n_cols, extreme, rows=None):
    n = rows if rows is not None else draw(st.integers(1, 7))
    flat = draw(st.lists(values(extreme), min_size=n * n_cols, max_size=n * n_cols))
    return np.array(flat, dtype=np.float64).reshape(n, n_cols)


def cast(a, dtype):
    with np.errstate(all="ignore"):
        if np.dtype(dtype).kind in "iub":
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
            info = np.iinfo(dtype) if np.dtype(dtype).kind != "b" else None
            if info is not None:
                a = np.clip(np.trunc(a * 10), info.min, info.max)
        return a.astype(dtype)


def lay_out(a, layout):
    """The same values as `a`, in another memory layout (or a list)."""
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype)
        big[::2, ::3] = a
        return big[::2, ::3]
    if layout == "reversed":
        return a[::-1, ::-1].copy()[::-1, ::-1]
    if layout == "byteswapped":
        return a.astype(a.dtype.newbyteorder())
    if layout == "unaligned":
        if a.dtype.itemsize == 1:
            return a.copy()
        buf = np.zeros(a.nbytes + 1, dtype=np.uint8)[1:]
        out = buf.view(a.dtype).reshape(a.shape)
        out[...] = a
        assert not out.flags.aligned
        return out
    if layout == "readonly":
        out = a.copy()
        out.flags.writeable = False
        return out
    if layout == "list":
        return a.tolist()
    raise AssertionError(layout)


def frozen(obj):
    """A snapshot of an input that sees any change, including of NaN payloads."""
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype, obj.shape, obj.strides, obj.flags.writeable,
                np.array(obj, copy=True).tobytes())
    return ("other", repr(obj))


@st.composite
def inputs(draw, n_cols, extreme, rows=None):
    """(the object passed to nnext, its values as the network sees them before conversion)."""
    base = draw(matrices(n_cols, extreme, rows))
    dtype = draw(st.sampled_from(INPUT_DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    if layout == "list" and dtype in ("longdouble", "float16"):
        layout = "C"
    arr = cast(base, dtype)
    obj = lay_out(arr, layout)
    return obj, arr


# -------------------------------------------------------------- the reference

def params64(net):
    ws = [np.array(w, dtype=np.float64) for w in net.weights]
    bs = None if net.biases is None else [np.array(b, dtype=np.float64) for b in net.biases]
    return ws, bs


def forward_with_bound(net, X):
    """The reference output (float64, from the exact values the network holds)
    and a per-element bound on |network - reference| from rounding in both.
    The bound is inf where the network's dtype may overflow on the way."""
    eps = float(np.finfo(net.dtype).eps)
    tiny = float(np.finfo(net.dtype).tiny)
    big = float(np.finfo(net.dtype).max) / 64
    ws, bs = params64(net)
    a = X
    err = np.zeros_like(X)
    with np.errstate(all="ignore"):
        for l, (W, act) in enumerate(zip(ws, net.activations)):
            b = bs[l] if bs is not None else np.zeros(W.shape[1])
            z = a @ W + b
            mag = np.abs(a) @ np.abs(W) + np.abs(b)
            zerr = err @ np.abs(W) + 4 * (W.shape[0] + 2) * eps * mag
            zerr = np.where(mag > big, np.inf, zerr)
            a = R.activate(act, z)
            if act == "softmax":
                zerr = np.broadcast_to(zerr.max(axis=1, keepdims=True), zerr.shape)
                err = zerr + 4 * (W.shape[1] + 4) * eps * np.abs(a) + 4 * tiny
            else:
                err = zerr + 8 * eps * np.abs(a) + 4 * tiny
    return a, err


def check_matches(out, ref, bound, what):
    ok = np.isfinite(bound) & np.isfinite(ref)
    assert np.all(np.isfinite(out[ok])), f"{what}: non-finite output where the reference is finite"
    diff = np.abs(out.astype(np.float64) - ref)
    bad = ok & ~(diff <= bound)
    assert not np.any(bad), (f"{what}: differs from the reference by {diff[bad]} "
                             f"(bound {bound[bad]}), output {out[bad]}, reference {ref[bad]}")


def finite_after_cast(arr, dtype):
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(np.asarray(arr).astype(dtype))))


# ------------------------------------------------------------------- predict

@SETTINGS
@given(st.data())
def test_predict_matches_reference_or_refuses(data):
    net = data.draw(networks())
    obj, arr = data.draw(inputs(net.sizes[0], extreme=True))
    one_d = data.draw(st.booleans()) and isinstance(obj, np.ndarray) and obj.shape[0] == 1
    if one_d:
        obj, arr = obj[0], arr[0]
    before = frozen(obj)
    snap = snapshot(net)
    try:
        with np.errstate(all="ignore"):
            out = net.predict(obj)
    except ValueError as e:
        assert not finite_after_cast(arr, net.dtype), f"refused finite input: {e}"
        assert "X" in str(e) and ("NaN" in str(e) or "inf" in str(e)), str(e)
    else:
        assert finite_after_cast(arr, net.dtype), "accepted non-finite input"
        X = np.atleast_2d(np.asarray(arr).astype(net.dtype).astype(np.float64))
        ref, bound = forward_with_bound(net, X)
        assert out.dtype == net.dtype
        assert out.shape == ((net.sizes[-1],) if one_d else (X.shape[0], net.sizes[-1]))
        check_matches(np.atleast_2d(out), ref, bound, "predict")
    assert frozen(obj) == before, "predict modified its input"
    assert_same_params(net, snap)


@SETTINGS
@given(st.data())
def test_forward_layers_match_reference(data):
    net = data.draw(networks())
    obj, arr = data.draw(inputs(net.sizes[0], extreme=False))
    before = frozen(obj)
    layers = net.forward(obj)
    X = np.asarray(arr).astype(net.dtype).astype(np.float64)
    assert len(layers) == len(net.sizes)
    assert np.array_equal(layers[0], X.astype(net.dtype))
    ref, bound = forward_with_bound(net, X)
    check_matches(layers[-1], ref, bound, "forward")
    assert frozen(obj) == before


# ---------------------------------------------------------- bad kinds of input

BAD_INPUTS = [
    (TypeError, lambda n: np.ones((2, n), dtype=complex)),
    (TypeError, lambda n: np.array([["a"] * n])),
    (TypeError, lambda n: np.ones((2, n), dtype=object)),
    (TypeError, lambda n: np.zeros((2, n), dtype="datetime64[s]")),
    (TypeError, lambda n: np.zeros((2, n), dtype=[("a", "f8")])),
    (TypeError, lambda n: [[None] * n]),
    (ValueError, lambda n: np.ones((2, n, 1))),
    (ValueError, lambda n: np.ones((0, n))),
    (ValueError, lambda n: np.ones((2, n + 1))),
    (ValueError, lambda n: 3.0),
    (ValueError, lambda n: [[1.0] * n, [1.0] * (n + 1)]),
]


@SETTINGS
@given(st.data())
def test_bad_kinds_of_input_raise_clearly(data):
    net = data.draw(networks(max_layers=2))
    exc, make = data.draw(st.sampled_from(BAD_INPUTS))
    bad = make(net.sizes[0])
    good_y = np.full((2, net.sizes[-1]), 1.0 / net.sizes[-1])
    loss = "cross_entropy" if net.activations[-1] == "softmax" else "mse"
    before = frozen(bad)
    snap = snapshot(net)
    calls = [lambda: net.predict(bad), lambda: net.forward(bad),
             lambda: net.gradients(bad, good_y, loss=loss),
             lambda: net.fit(bad, good_y, epochs=1, loss=loss),
             lambda: net.fit(np.ones((2, net.sizes[0])), bad if net.sizes[0] == net.sizes[-1]
                             else make(net.sizes[-1]), epochs=1, loss=loss)]
    for call in calls:
        with pytest.raises((TypeError, ValueError)) as info:
            call()
        msg = str(info.value)
        assert any(w in msg for w in ("X", "y", "dtype", "shape", "rows", "real", "array", "2-D")), msg
        assert frozen(bad) == before
        assert_same_params(net, snap)


# ----------------------------------------------------------- gradients and fit

LOSS_FOR_OUTPUT = {"softmax": ["cross_entropy", "mse", "sse"], "sigmoid": ["bce", "mse", "sse"]}


def targets(draw, net, loss, n, extreme):
    k = net.sizes[-1]
    if loss == "cross_entropy":
        labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
        if draw(st.booleans()):
            return np.array(labels), np.eye(k)[labels]
        Y = np.eye(k)[labels]
        return Y, Y
    if loss == "bce":
        Y = np.array(draw(st.lists(st.floats(0, 1), min_size=n * k, max_size=n * k))).reshape(n, k)
        return Y, Y
    Y = draw(matrices(k, extreme, rows=n))
    return Y, Y


def kinked(net, X, margin):
    """True when a relu/leaky_relu pre-activation is within `margin` of its kink,
    where float32 and float64 (or two summation orders) may take different sides."""
    ws, bs = params64(net)
    zs, _ = R._forward_with_z(ws, bs, net.activations, X)
    for z, act in zip(zs, net.activations):
        if act in ("relu", "leaky_relu") and np.any(np.abs(z) < margin * (1 + np.abs(z).max())):
            return True
    return False


def loss_comparable(net, X, Y, loss):
    """False when the loss value itself is ill-conditioned in the network's dtype:
    bce of a saturated sigmoid needs log(1 - p) with 1 - p below the dtype's
    resolution (the core clamps the log's argument, so it stays finite but
    is not the float64 value); the same for cross-entropy of a vanishing p."""
    if loss not in ("bce", "cross_entropy"):
        return True
    ws, bs = params64(net)
    with np.errstate(all="ignore"):
        p = R.forward(ws, bs, net.activations, X)[-1]
    eps, tiny = np.finfo(net.dtype).eps, np.finfo(net.dtype).tiny
    if loss == "bce":
        return bool(np.all(np.minimum(p, 1 - p)[(Y > 0) & (Y < 1) | (Y != np.round(p))] > 1e3 * eps))
    return bool(np.all(p[Y > 0] > 1e6 * tiny))


@SETTINGS
@given(st.data())
def test_gradients_match_reference(data):
    net = data.draw(networks(max_width=5))
    losses = LOSS_FOR_OUTPUT.get(net.activations[-1], ["mse", "sse"])
    loss = data.draw(st.sampled_from(losses))
    obj, arr = data.draw(inputs(net.sizes[0], extreme=False))
    n = np.atleast_2d(arr).shape[0]
    y_obj, Y = targets(data.draw, net, loss, n, extreme=False)
    before, y_before = frozen(obj), frozen(y_obj)
    snap = snapshot(net)
    dW, db = net.gradients(obj, y_obj, loss=loss)
    assert frozen(obj) == before and frozen(y_obj) == y_before
    assert_same_params(net, snap)
    X = np.asarray(arr).astype(net.dtype).astype(np.float64)
    Y = np.asarray(Y).astype(net.dtype).astype(np.float64)
    f32 = net.dtype == np.float32
    if kinked(net, X, 1e-3 if f32 else 1e-9):
        return
    ws, bs = params64(net)
    with np.errstate(all="ignore"):
        value, rW, rb = R.loss_and_gradients(ws, bs, net.activations, X, Y, loss)
    tol = 2e-3 if f32 else 1e-8
    scale = max([np.abs(g).max() for g in rW] + ([np.abs(g).max() for g in rb] if rb else []) + [1e-3])
    for got, want in zip(dW + (db or []), rW + (rb or [])):
        assert got.dtype == net.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)
    if loss_comparable(net, X, Y, loss):
        np.testing.assert_allclose(net.loss(obj, y_obj, loss=loss), value, rtol=tol, atol=tol * 1e-3)


@SETTINGS
@given(st.data())
def test_fit_matches_reference(data):
    net = data.draw(networks(max_layers=2, max_width=5))
    losses = LOSS_FOR_OUTPUT.get(net.activations[-1], ["mse", "sse"])
    loss = data.draw(st.sampled_from(losses))
    obj, arr = data.draw(inputs(net.sizes[0], extreme=False))
    n = np.atleast_2d(arr).shape[0]
    y_obj, Y = targets(data.draw, net, loss, n, extreme=False)
    optimizer = data.draw(st.sampled_from(["sgd", "momentum", "adam"]))
    lr = data.draw(st.sampled_from([0.001, 0.01, 0.05]))
    epochs = data.draw(st.integers(1, 4))
    batch = data.draw(st.one_of(st.none(), st.integers(1, n)))
    X = np.asarray(arr).astype(net.dtype).astype(np.float64)
    Y = np.asarray(Y).astype(net.dtype).astype(np.float64)
    f32 = net.dtype == np.float32
    ws, bs = params64(net)
    before, y_before = frozen(obj), frozen(y_obj)
    kw = dict(optimizer="adam") if optimizer == "adam" else dict(momentum=0.9 if optimizer == "momentum" else 0.0)
    hist = net.fit(obj, y_obj, epochs=epochs, lr=lr, loss=loss, batch_size=batch, **kw)
    assert frozen(obj) == before and frozen(y_obj) == y_before
    assert all(np.all(np.isfinite(w)) for w in net.weights)
    assert len(hist.loss) == epochs
    if kinked(net, X, 1e-2 if f32 else 1e-6) or optimizer == "adam" and f32:
        return  # kinks and Adam's division by sqrt(v) amplify float32 rounding
    with np.errstate(all="ignore"):
        rW, rb, rhist = R.fit(ws, bs, net.activations, X, Y, epochs, lr, loss=loss, batch_size=batch,
                              optimizer="sgd" if optimizer == "momentum" else optimizer,
                              momentum=0.9 if optimizer == "momentum" else 0.0)
    tol = 2e-3 if f32 else 1e-7
    for got, want in zip(net.weights + (net.biases or []), rW + (rb or [])):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    if loss_comparable(net, X, Y, loss):
        np.testing.assert_allclose(hist.loss, rhist, rtol=tol, atol=tol)


@SETTINGS
@given(st.data())
def test_extreme_values_in_gradients_and_fit(data):
    """Any values: a ValueError naming X or y for non-finite data, otherwise a
    result (gradients) or finite weights, or FloatingPointError with the
    weights restored (fit).  Never a crash, never modified inputs."""
    net = data.draw(networks(max_layers=2, max_width=4))
    loss = data.draw(st.sampled_from(LOSS_FOR_OUTPUT.get(net.activations[-1], ["mse", "sse"])))
    obj, arr = data.draw(inputs(net.sizes[0], extreme=True))
    n = np.atleast_2d(arr).shape[0]
    y_obj, Y = targets(data.draw, net, loss, n, extreme=True)
    before, y_before = frozen(obj), frozen(y_obj)
    snap = snapshot(net)
    finite = finite_after_cast(arr, net.dtype) and finite_after_cast(Y, net.dtype)
    with np.errstate(all="ignore"):
        try:
            dW, db = net.gradients(obj, y_obj, loss=loss)
        except ValueError as e:
            assert not finite, f"refused finite data: {e}"
            assert "X" in str(e) or "y" in str(e), str(e)
        else:
            assert finite
            assert [g.shape for g in dW] == [w.shape for w in net.weights]
        assert_same_params(net, snap)
        lr = data.draw(st.sampled_from([0.1, 10.0, 1e30]))
        try:
            net.fit(obj, y_obj, epochs=1, lr=lr, loss=loss)
        except ValueError as e:
            assert not finite, f"refused finite data: {e}"
            assert_same_params(net, snap)
        except FloatingPointError as e:
            assert finite
            assert "NaN or infinite" in str(e)
            assert_same_params(net, snap)  # one epoch: restored to before the fit
        else:
            assert finite
    assert all(np.all(np.isfinite(w)) for w in net.weights)
    assert frozen(obj) == before and frozen(y_obj) == y_before


@SETTINGS
@given(st.data())
def test_weights_assignment_all_or_nothing(data):
    net = data.draw(networks(max_layers=2))
    snap = snapshot(net)
    new = [data.draw(matrices(w.shape[1], extreme=True, rows=w.shape[0])) for w in net.weights]
    try:
        net.weights = new
    except ValueError as e:
        assert not all(np.all(np.isfinite(w.astype(net.dtype))) for w in new) or "NaN" in str(e)
        assert_same_params(net, snap)
    else:
        for got, want in zip(net.weights, new):
            assert np.all(np.isfinite(got)), "accepted weights that are not finite in the network's dtype"
            with np.errstate(all="ignore"):
                assert np.array_equal(got, want.astype(net.dtype))
