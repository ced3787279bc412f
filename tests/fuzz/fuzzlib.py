"""What the Python fuzz targets share: finding the tests folder (for
tests/reference.py), the instrumented import of nnext, the check that a
network is intact, and the entry point that hands a target to atheris.

The targets run against whatever ``nnext`` is importable; tests/fuzz/run.sh
makes that the ASan+UBSan build with coverage instrumentation, in a scratch
directory.
"""
import contextlib
import hashlib
import os
import sys

import atheris

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["nnext"]):
    import nnext  # noqa: E402
    import nnext._files  # noqa: E402,F401
    import nnext.diagnostics  # noqa: E402,F401
    import nnext.network  # noqa: E402,F401

import numpy as np  # noqa: E402

ACTIVATIONS = list(nnext.ACTIVATIONS)  # every activation the installed nnext has
HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
HIDDEN_NO_MAXOUT = [a for a in HIDDEN if a != "maxout"]
OUTPUT = [a for a in ACTIVATIONS if a != "maxout"]  # (maxout: hidden layers only, refused as output)
DTYPES = ["float64", "float32"]
LOSSES = list(nnext.LOSSES)


def parameters(net):
    """A copy of everything that defines a network's state."""
    state = net.__getstate__()
    opt = state["opt"]
    return (list(net.sizes), list(net.activations), net.bias, net.dtype.name,
            state["params"].copy(), None if opt is None else (opt[0], opt[1], opt[2].copy(), opt[3]))


def same_parameters(a, b):
    """a, b from `parameters`: equal to the bit (NaN never appears: params are finite)."""
    if a[:4] != b[:4] or a[4].tobytes() != b[4].tobytes():
        return False
    if (a[5] is None) != (b[5] is None):
        return False
    if a[5] is None:
        return True
    return a[5][0] == b[5][0] and a[5][1] == b[5][1] and a[5][3] == b[5][3] and \
        a[5][2].tobytes() == b[5][2].tobytes()


def check_usable(net, rng_seed=0):
    """A loaded network must predict outputs of the right shape on finite
    input, finite unless its own weights make the sums overflow (weights near
    the dtype's largest value are valid, and so is their inf)."""
    rng = np.random.default_rng(rng_seed)
    X = rng.uniform(-1, 1, size=(3, net.sizes[0]))
    out = net.predict(X)
    if out.shape != (3, net.sizes[-1]) or out.dtype != net.dtype:
        raise AssertionError(f"predict gave shape {out.shape} dtype {out.dtype}")
    # |a| @ |W| + |b| layer by layer (activations are 1-Lipschitz or bounded by 1)
    mag = np.abs(X)
    biases = net.biases
    with np.errstate(all="ignore"):
        for l, w in enumerate(net.weights):
            mag = np.maximum(mag @ np.abs(w.astype(np.float64)) +
                             (np.abs(biases[l].astype(np.float64)) if biases is not None else 0), 1.0)
            if net.activations[l] == "maxout":  # |max of the k pieces| <= the largest piece's bound
                mag = mag.reshape(mag.shape[0], -1, net.activation_params[l]).max(axis=2)
    overflows = not np.all(mag < float(np.finfo(net.dtype).max) / 1e6)
    if not overflows and not np.all(np.isfinite(out)):
        raise AssertionError(f"a loaded network predicts non-finite values: {out}")
    return out


@contextlib.contextmanager
def keep_failing_input(data):
    """An input that makes the target raise is written to $NNEXT_FUZZ_ARTIFACTS
    (run.sh sets it) before libFuzzer's own report, which a slow stack
    symbolisation on a loaded machine can cut short."""
    try:
        yield
    except BaseException:
        folder = os.environ.get("NNEXT_FUZZ_ARTIFACTS")
        if folder:
            name = os.path.join(folder, "failure-" + hashlib.sha1(data).hexdigest())
            with open(name, "wb") as f:
                f.write(data)
            print(f"failing input written to {name}", file=sys.stderr)
        raise


def main(test_one_input):
    """atheris.Setup + Fuzz with the command line (libFuzzer's flags, corpus dirs)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
