"""Files: save is atomic (temporary file + rename), load refuses truncated,
corrupted, wrong-version and hostile files with a clear ValueError naming the
file and never unpickles anything; float32 and float64 networks round-trip
exactly, and across dtypes where that is exact."""
import io
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from conftest import assert_same_params, child_env, nnext_location, snapshot
from nnext import Network


def saved_arrays(net):
    """What a saved file holds, as a dict (to build variants of it)."""
    buf = io.BytesIO()
    with open(net.save(os.path.join(_tmp(), "orig.npz")), "rb") as f:
        buf.write(f.read())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


_TMP = []


def _tmp():
    import tempfile
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="nnext-files-"))
    return _TMP[0]


def write_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return str(path)


def assert_refused(path, *mentions):
    with pytest.raises(ValueError) as info:
        Network.load(path)
    msg = str(info.value)
    assert os.path.basename(str(path)) in msg, f"the error does not name the file: {msg}"
    for m in mentions:
        assert m.lower() in msg.lower(), f"{m!r} not in {msg!r}"
    return msg


def same_network(a, b):
    assert a.sizes == b.sizes and a.activations == b.activations and a.bias == b.bias
    assert a.dtype == b.dtype
    for x, y in zip(a.weights + (a.biases or []), b.weights + (b.biases or [])):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.fixture
def net():
    n = Network([4, 6, 3], activation=["tanh", "softmax"], seed=2)
    n.biases = [np.linspace(-1, 1, 6), np.array([0.5, -0.25, 0.125])]
    return n


# ----------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
def test_roundtrip_is_exact(tmp_path, dtype, bias):
    n = Network([3, 5, 2, 1], activation=["relu", "elu", "sigmoid"], bias=bias, dtype=dtype, seed=1)
    n.fit(np.random.RandomState(0).normal(size=(20, 3)), np.random.RandomState(1).uniform(size=(20, 1)),
          epochs=5, lr=0.1)
    path = n.save(tmp_path / "n")
    assert path.endswith(".npz") and os.path.exists(path)
    back = Network.load(path)
    same_network(n, back)
    X = np.random.RandomState(3).normal(size=(7, 3))
    assert np.array_equal(back.predict(X), n.predict(X))
    assert os.listdir(tmp_path) == ["n.npz"], "a temporary file was left behind"


def test_other_dtype_path(tmp_path):
    """float32 -> float64 is exact, so a float32 network saved, loaded and
    moved to float64 holds the very same numbers, predicts the same within
    float32 rounding, and goes back to float32 bit for bit."""
    n32 = Network([4, 8, 2], activation="tanh", dtype="float32", seed=5)
    back = Network.load(n32.save(tmp_path / "f32.npz"))
    n64 = Network.from_weights(back.weights, back.biases, activation=back.activations, dtype="float64")
    assert n64.dtype == np.float64
    for a, b in zip(n32.weights + n32.biases, n64.weights + n64.biases):
        assert np.array_equal(a.astype(np.float64), b)
    X = np.random.RandomState(0).normal(size=(9, 4)).astype(np.float32)
    np.testing.assert_allclose(n64.predict(X), n32.predict(X), rtol=1e-5, atol=1e-6)
    path64 = n64.save(tmp_path / "f64.npz")
    again = Network.load(path64)
    n32b = Network.from_weights(again.weights, again.biases, activation=again.activations, dtype="float32")
    same_network(n32, n32b)
    assert np.array_equal(n32b.predict(X), n32.predict(X))
    # float64 -> float32 rounds: allowed where the values fit, refused where they do not
    huge = Network.from_weights([np.full((2, 1), 1e300)], None, activation="linear")
    with pytest.raises(ValueError, match="too large for float32"):
        Network.from_weights(huge.weights, None, activation="linear", dtype="float32")


def test_save_appends_suffix_and_accepts_pathlike(tmp_path, net):
    p = net.save(tmp_path / "model")
    assert p == str(tmp_path / "model.npz")
    same_network(net, Network.load(tmp_path / "model.npz"))


def test_save_overwrites_atomically_and_keeps_no_temp_files(tmp_path, net):
    path = str(tmp_path / "m.npz")
    other = Network([4, 6, 3], activation=["tanh", "softmax"], seed=9)
    for i in range(20):
        (net if i % 2 else other).save(path)
    same_network(net, Network.load(path))
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path, net, monkeypatch, exc):
    path = net.save(tmp_path / "m.npz")
    with open(path, "rb") as f:
        before = f.read()
    other = Network([4, 6, 3], activation=["tanh", "softmax"], seed=9)
    real_savez = np.savez

    def failing_savez(f, **arrays):
        real_savez(f, **arrays)
        f.flush()
        f.truncate(100)  # half written
        raise exc

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(type(exc)):
        other.save(path)
    monkeypatch.undo()
    with open(path, "rb") as f:
        assert f.read() == before
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]
    same_network(net, Network.load(path))


def test_save_into_missing_folder_raises_clearly(tmp_path, net):
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "no" / "such" / "m.npz")


SAVER = textwrap.dedent(r"""
    import os, sys
    import numpy as np
    import nnext
    from nnext import Network
    path = sys.argv[1]
    a = Network([200, 300, 100], seed=1)
    b = Network([200, 300, 100], seed=2)
    a.save(path)
    print("ready", os.path.realpath(os.path.dirname(nnext.__file__)), flush=True)
    i = 0
    while True:
        (b if i % 2 else a).save(path)
        i += 1
""")


@pytest.mark.slow
def test_kill_during_save_never_leaves_a_broken_file(tmp_path):
    """SIGKILL a process that saves over and over (about 700 KB a time): the
    file under the target name is always one of the complete versions."""
    path = str(tmp_path / "model.npz")
    a = Network([200, 300, 100], seed=1)
    b = Network([200, 300, 100], seed=2)
    env = child_env()  # the child imports the nnext under test, never the source tree
    rs = np.random.RandomState(0)
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, path], stdout=subprocess.PIPE, env=env,
                                cwd=tmp_path)
        try:
            ready = proc.stdout.readline().decode()
            assert ready.split(None, 1) == ["ready", nnext_location() + "\n"], ready
            time.sleep(0.05 + rs.uniform(0, 0.3))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        got = Network.load(path)
        assert any(np.array_equal(got.weights[0], n.weights[0]) and
                   np.array_equal(got.weights[1], n.weights[1]) for n in (a, b))
    leftovers = [f for f in os.listdir(tmp_path) if f != "model.npz"]
    # a killed save may leave its hidden temporary file, never a broken target
    assert all(f.startswith(".nnext-") and f.endswith(".tmp") for f in leftovers), leftovers


# ------------------------------------------------------------ refusing files

def test_truncated_files_are_refused(tmp_path, net):
    path = net.save(tmp_path / "m.npz")
    with open(path, "rb") as f:
        blob = f.read()
    cuts = sorted(set([0, 1, 4, 22, 30, 100, len(blob) // 2, len(blob) - 22, len(blob) - 1] +
                      list(range(0, len(blob), max(1, len(blob) // 40)))))
    for cut in cuts:
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(blob[:cut])
        assert_refused(bad)


def test_corrupted_files_are_refused_or_identical(tmp_path, net):
    """Any single flipped byte: either a ValueError, or (a byte the format does
    not depend on, such as a timestamp) the very same network."""
    path = net.save(tmp_path / "m.npz")
    blob = bytearray(open(path, "rb").read())
    rs = np.random.RandomState(1)
    positions = sorted(set(rs.randint(0, len(blob), 300).tolist()))
    refused = 0
    for pos in positions:
        bad = bytearray(blob)
        bad[pos] ^= 1 << int(rs.randint(0, 8))
        p = tmp_path / "flip.npz"
        p.write_bytes(bytes(bad))
        try:
            got = Network.load(p)
        except ValueError as e:
            assert "flip.npz" in str(e)
            refused += 1
        else:
            same_network(net, got)
    assert refused > len(positions) // 2


def test_wrong_version_and_format_are_refused(tmp_path, net):
    arrays = saved_arrays(net)
    assert_refused(write_npz(tmp_path / "v2.npz", {**arrays, "version": np.array(2)}), "version")
    assert_refused(write_npz(tmp_path / "vs.npz", {**arrays, "version": np.array("1")}), "version")
    assert_refused(write_npz(tmp_path / "fmt.npz", {**arrays, "format": np.array("other")}), "format")
    no_fmt = {k: v for k, v in arrays.items() if k != "format"}
    assert_refused(write_npz(tmp_path / "nofmt.npz", no_fmt), "format")


HOSTILE = {
    "missing W1": lambda a: {k: v for k, v in a.items() if k != "W1"},
    "missing b0": lambda a: {k: v for k, v in a.items() if k != "b0"},
    "W0 wrong shape": lambda a: {**a, "W0": np.ones((3, 6))},
    "W1 transposed": lambda a: {**a, "W1": a["W1"].T.copy()},
    "b1 wrong length": lambda a: {**a, "b1": np.ones(4)},
    "NaN weight": lambda a: {**a, "W0": np.where(np.eye(4, 6) > 0, np.nan, a["W0"])},
    "inf bias": lambda a: {**a, "b0": np.full(6, np.inf)},
    "complex weight": lambda a: {**a, "W0": a["W0"].astype(complex)},
    "string weight": lambda a: {**a, "W0": np.full((4, 6), "x")},
    "sizes negative": lambda a: {**a, "sizes": np.array([4, -6, 3])},
    "sizes empty": lambda a: {**a, "sizes": np.array([], dtype=np.int64)},
    "sizes one": lambda a: {**a, "sizes": np.array([4])},
    "sizes float": lambda a: {**a, "sizes": np.array([4.0, 6.0, 3.0])},
    "sizes 2-D": lambda a: {**a, "sizes": np.array([[4, 6, 3]])},
    "sizes huge": lambda a: {**a, "sizes": np.array([4, 2**62, 3])},
    "unknown activation": lambda a: {**a, "activations": np.array(["tanh", "gelu"])},
    "softmax hidden": lambda a: {**a, "activations": np.array(["softmax", "softmax"])},
    "too few activations": lambda a: {**a, "activations": np.array(["tanh"])},
    "activations bytes": lambda a: {**a, "activations": np.array([b"tanh", b"softmax"])},
    "bad dtype": lambda a: {**a, "dtype": np.array("float16")},
    "bogus dtype": lambda a: {**a, "dtype": np.array("no-such-type")},
    "bias array": lambda a: {**a, "bias": np.array([True, False])},
    "no bias flag but biases": lambda a: {**a, "bias": np.array(False)},
    "version array": lambda a: {**a, "version": np.array([1, 1])},
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_malformed_contents_are_refused(tmp_path, net, case):
    arrays = HOSTILE[case](saved_arrays(net))
    path = write_npz(tmp_path / "hostile.npz", arrays)
    try:
        got = Network.load(path)
    except ValueError as e:
        assert "hostile.npz" in str(e), f"{case}: the error does not name the file: {e}"
    else:
        # the only acceptable success is a file that still describes a valid network
        assert case in ("no bias flag but biases",), f"{case}: loaded {got!r}"
        assert got.biases is None
        for w, want in zip(got.weights, net.weights):
            assert np.array_equal(w, want)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(_tmp(), "PWNED"),))


def test_pickles_are_never_loaded(tmp_path, net):
    marker = os.path.join(_tmp(), "PWNED")
    arrays = saved_arrays(net)
    obj = np.empty(1, dtype=object)
    obj[0] = _Boom()
    p1 = tmp_path / "objarray.npz"
    with open(p1, "wb") as f:
        np.savez(f, **{**arrays, "W0": obj})
    assert_refused(p1)
    p2 = tmp_path / "plain.pickle"
    with open(p2, "wb") as f:
        pickle.dump(_Boom(), f)
    assert_refused(p2)
    p3 = tmp_path / "single.npy"
    np.save(p3, obj, allow_pickle=True)
    assert_refused(p3)
    assert not os.path.exists(marker), "loading a file ran code from a pickle"


def test_other_kinds_of_files_are_refused(tmp_path, net):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert_refused(empty)
    text = tmp_path / "text.npz"
    text.write_text("hello\n" * 100)
    assert_refused(text)
    npy = tmp_path / "array.npy"
    np.save(npy, np.ones((4, 6)))
    assert_refused(npy)
    zf = tmp_path / "zip.npz"
    with zipfile.ZipFile(zf, "w") as z:
        z.writestr("readme.txt", "not a network")
    assert_refused(zf)
    with pytest.raises(FileNotFoundError):
        Network.load(tmp_path / "missing.npz")
    with pytest.raises((IsADirectoryError, ValueError, PermissionError)):
        Network.load(tmp_path)


def test_huge_declared_array_is_refused_without_allocating(tmp_path, net):
    """An entry whose header claims 10**12 elements but holds a few bytes."""
    arrays = saved_arrays(net)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, v, allow_pickle=False)
            z.writestr(k + ".npy", buf.getvalue())
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (10**6, 10**6)})
        z.writestr("W0.npy", header.getvalue() + b"\0" * 64)
    snap_before = snapshot(net)
    assert_refused(path)
    assert_same_params(net, snap_before)


def test_failed_load_changes_no_existing_network(tmp_path, net):
    snap = snapshot(net)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert_refused(bad)
    assert_same_params(net, snap)


def test_saved_file_permissions_follow_umask_or_the_replaced_file(tmp_path, net):
    """mkstemp creates 0600 files; a saved network must be as readable as one
    written by np.savez (0666 minus the umask), or keep the replaced file's mode."""
    old = os.umask(0o022)
    try:
        p = net.save(tmp_path / "m.npz")
        assert os.stat(p).st_mode & 0o777 == 0o644
        os.chmod(p, 0o640)
        net.save(p)
        assert os.stat(p).st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
