"""Networks, data and a normwise comparison shared by test_export.py and test_onnx.py."""
import numpy as np

import reference as R
from nnext import Network

RTOL = {"float64": 1e-12, "float32": 1e-6}


def assert_close(got, want, rtol, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    assert err <= rtol * scale, f"{what}: max |difference| {err:.3g} > {rtol:g} * max |value| {scale:.3g}"


def make_net(acts, bias, dtype, sizes=(4, 6, 5, 3), seed=0, init="normal"):
    """A network with non-zero biases; init="normal" gives weights big enough to use every
    activation's range (and to saturate some outputs), "xavier" keeps outputs moderate."""
    rng = np.random.RandomState(100 + seed)
    net = Network(list(sizes), activation=list(acts), bias=bias, dtype=dtype, init=init, seed=seed)
    if bias:
        net.biases = [rng.uniform(-1, 1, b.shape) for b in net.biases]
    return net


def data(n_in, n=11, seed=0):
    return 1.5 * np.random.RandomState(seed).normal(size=(n, n_in))


def layer_cases():
    """Every activation as the hidden layers' and as the output layer's."""
    cases = [[a, a, a] for a in R.HIDDEN_ACTIVATIONS]
    cases += [[a, a, "softmax"] for a in R.HIDDEN_ACTIVATIONS]
    # activations with their parameters (maxout: hidden layers only)
    cases += [[("leaky_relu", 0.1), ("elu", 0.5), ("leaky_relu", 0.3)],
              [("maxout", 3), ("maxout", 2), "softmax"],
              [("maxout", 1), ("leaky_relu", 0.0), "linear"],
              [("elu", 2.0), ("maxout", 3), ("elu", 0.25)]]
    return cases


def case_id(acts):
    return ",".join(a if isinstance(a, str) else f"{a[0]}({a[1]})" for a in acts)


CASES = layer_cases()
CASE_IDS = [case_id(c) for c in CASES]
