"""Fuzz target `load`: untrusted files and pickles into a Network.

The first byte picks the way in:

* even: the rest is an ``.npz`` file handed to `nnext.Network.load`;
* odd: the rest is decoded (atheris.FuzzedDataProvider) into a pickled
  Network whose state (sizes, activations, bias, dtype, params, optimizer
  state) is a real network's with parts replaced by fuzzed values of any
  type, dtype and shape, handed to `pickle.loads`.  (Raw pickle bytes are not
  fuzzed: unpickling untrusted bytes runs arbitrary code by design; what
  nnext controls is `Network.__setstate__`.)

Either way the outcome must be a network that predicts finite outputs of the
right shape on finite input, or ValueError / TypeError / OSError (load) or
ValueError / TypeError (unpickling); never a crash, a sanitizer report, a hang
(over 1 s of CPU; libFuzzer's -timeout for one that never returns) or more memory than the declared architecture needs
(tracemalloc's peak, numpy's buffers included, against the parameter bytes
the input declares plus a constant; load also within a multiple of the
file's own size).

Run: tests/fuzz/run.sh load SECONDS
"""
import copyreg
import io
import os
import pickle
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzlib  # noqa: E402
from fuzzlib import np, nnext  # noqa: E402

import atheris  # noqa: E402

TMP = tempfile.mkdtemp(prefix="nnext-fuzz-load-")
PATH = os.path.join(TMP, "net.npz")
SLACK = 4 << 20  # bytes: Python objects, zipfile's buffers, headers
CPU_LIMIT = 1.0  # seconds of CPU for one load or unpickling (the process's
# CPU time, not the wall clock, which a loaded machine stretches; libFuzzer's
# -timeout catches a hang that never returns)


def check_cpu(started, what):
    used = time.process_time() - started
    if used > CPU_LIMIT:
        raise AssertionError(f"{what} took {used:.2f} s of CPU (limit {CPU_LIMIT} s)")


def declared_bytes(data):
    """Parameter bytes the file declares (float64 for any dtype), or 0 when
    its sizes cannot be read: what load's memory is allowed to scale with."""
    import zipfile
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            info = z.getinfo("sizes.npy")
            if info.file_size > 1 << 16:
                return 0
            sizes = [int(s) for s in np.load(io.BytesIO(z.read(info)), allow_pickle=False)]
    except Exception:
        return 0
    if len(sizes) < 2 or min(sizes) < 1:
        return 0
    return 8 * sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def fuzz_file(data):
    with open(PATH, "wb") as f:
        f.write(data)
    tracemalloc.start()
    started = time.process_time()
    try:
        net = nnext.Network.load(PATH)
    except (ValueError, TypeError, OSError):
        net = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    check_cpu(started, f"load of a {len(data)}-byte file")
    # memory: the declared architecture (a float64 copy and a network's block,
    # with numpy's temporaries), never more than a multiple of the file itself
    limit = SLACK + min(4 * declared_bytes(data), 2048 * len(data))
    if peak > limit:
        raise AssertionError(f"load of a {len(data)}-byte file used {peak} bytes (limit {limit})")
    if net is not None:
        fuzzlib.check_usable(net)


# ------------------------------------------------------------------ pickles

def fuzzed_value(fdp, like):
    """A value for a state entry: usually a variation of the real one `like`,
    sometimes anything."""
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind == 0:
        return like
    if kind == 1:
        return None
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 9))
    if kind == 3:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 12))
    if kind == 4:
        return fdp.ConsumeRegularFloat()
    if kind == 5:
        return [fdp.ConsumeIntInRange(-2, 40) for _ in range(fdp.ConsumeIntInRange(0, 5))]
    if kind == 6:
        return fuzzed_array(fdp)
    if kind == 7:
        return fdp.ConsumeBool()
    if kind == 8:
        return {"x": 1} if fdp.ConsumeBool() else (1, 2)
    return fdp.PickValueInList(fuzzlib.ACTIVATIONS + fuzzlib.DTYPES + ["float16", "int64", "softmax2"])


def fuzzed_array(fdp, size=None):
    dtype = fdp.PickValueInList(["float64", "float32", "int32", "float16", "complex128", "bool", "object"])
    n = fdp.ConsumeIntInRange(0, 64) if size is None else size
    if dtype == "object":
        return np.array([None] * n, dtype=object)
    values = fdp.ConsumeFloatListInRange(n, -1e3, 1e3) if fdp.ConsumeBool() else \
        [fdp.ConsumeFloat() for _ in range(n)]
    arr = np.array(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        arr = arr.astype(dtype)
    if fdp.ConsumeBool() and n % 2 == 0 and n:
        arr = arr.reshape(2, -1)
    return arr


def fuzz_pickle(fdp):
    sizes = [fdp.ConsumeIntInRange(1, 9) for _ in range(fdp.ConsumeIntInRange(2, 4))]
    acts = [fdp.PickValueInList(fuzzlib.HIDDEN) for _ in sizes[2:]] + \
        [fdp.PickValueInList(fuzzlib.OUTPUT)]
    net = nnext.Network(sizes, activation=acts, bias=fdp.ConsumeBool(),
                        dtype=fdp.PickValueInList(fuzzlib.DTYPES), seed=0)
    if fdp.ConsumeBool():  # an optimizer state, as after a fit
        X = np.linspace(-1, 1, 4 * sizes[0]).reshape(4, sizes[0])
        y = np.full((4, sizes[-1]), 1.0 / sizes[-1])
        net.fit(X, y, epochs=1, optimizer=fdp.PickValueInList(["sgd", "adam"]),
                momentum=0.5 if fdp.ConsumeBool() else 0.0)
    state = net.__getstate__()
    for key in list(state):
        if fdp.ConsumeIntInRange(0, 3) == 0:
            if key == "params" and fdp.ConsumeBool():
                state[key] = fuzzed_array(fdp, size=fdp.PickValueInList(
                    [state[key].size, state[key].size + 1, 0]))
            elif key == "opt" and state[key] is not None and fdp.ConsumeBool():
                opt = list(state[key])
                i = fdp.ConsumeIntInRange(0, 3)
                opt[i] = fuzzed_value(fdp, opt[i])
                state[key] = tuple(opt) if fdp.ConsumeBool() else opt
            else:
                state[key] = fuzzed_value(fdp, state[key])
    if fdp.ConsumeIntInRange(0, 7) == 0:
        state.pop(fdp.PickValueInList(list(state)))
    if fdp.ConsumeIntInRange(0, 15) == 0:
        state = fuzzed_value(fdp, state)
    if state is None:  # pickle's "no state": the object is never built (a bare __new__)
        return

    class Crafted(pickle.Pickler):
        """Pickles `net` as Network's own reduction would, with the fuzzed state."""

        def reducer_override(self, obj):
            if obj is net:
                return copyreg.__newobj__, (nnext.Network,), state
            return NotImplemented

    buf = io.BytesIO()
    Crafted(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(net)
    payload = buf.getvalue()
    budget = SLACK + 16 * len(payload) + 64 * net.n_params
    tracemalloc.start()
    started = time.process_time()
    try:
        loaded = pickle.loads(payload)
    except (ValueError, TypeError):
        loaded = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    check_cpu(started, f"unpickling a {len(payload)}-byte payload")
    if peak > budget:
        raise AssertionError(f"unpickling a {len(payload)}-byte payload used {peak} bytes")
    if loaded is not None:
        fuzzlib.check_usable(loaded)
        # what came in is what the network holds
        if not np.array_equal(loaded.__getstate__()["params"],
                              np.asarray(state["params"]).astype(loaded.dtype)):
            raise AssertionError("unpickled parameters differ from the payload's")


def test_one_input(data):
    if not data:
        return
    with fuzzlib.keep_failing_input(data):
        if data[0] % 2 == 0:
            fuzz_file(data[1:])
        else:
            fuzz_pickle(atheris.FuzzedDataProvider(data[1:]))


if __name__ == "__main__":
    fuzzlib.main(test_one_input)
