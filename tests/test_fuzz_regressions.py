"""Defects the fuzz targets (tests/fuzz/, issue 18) found, each kept as an
ordinary test: unpickled states and loaded files that escaped the documented
ValueError/TypeError, or made a small input allocate a huge architecture."""
import io
import tracemalloc
import zipfile

import numpy as np
import pytest

import reference
from nnext import Network


def fitted(momentum=0.5):
    net = Network([2, 3, 1], seed=0)
    net.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, momentum=momentum)
    return net


def unpickle_with(net, **changes):
    """What pickle.loads does with net's pickle (a bare Network, then __setstate__),
    with the state's entries replaced."""
    state = net.__getstate__()
    state.update(changes)
    fresh = Network.__new__(Network)
    fresh.__setstate__(state)
    return fresh


def peak_bytes(call):
    """(result or exception, tracemalloc's peak: numpy's buffers included)."""
    tracemalloc.start()
    try:
        try:
            out = call()
        except Exception as e:  # noqa: BLE001 - returned for the test to judge
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_optimizer_state_as_a_list_is_a_type_error():
    # fuzz_load: a list where the state holds a tuple was SystemError
    # ("new style getargs format but argument is not a tuple")
    net = fitted()
    opt = net.__getstate__()["opt"]
    with pytest.raises(TypeError, match="optimizer state must be None or a tuple"):
        unpickle_with(net, opt=list(opt))
    with pytest.raises(TypeError, match="optimizer state"):
        unpickle_with(net, opt="adam")


@pytest.mark.parametrize("where", [0, 1, 3])
def test_optimizer_state_with_huge_integers_is_a_value_error(where):
    # an int beyond C's range was OverflowError
    net = fitted()
    opt = list(net.__getstate__()["opt"])
    opt[where] = 2 ** 70
    with pytest.raises(ValueError, match="optimizer state"):
        unpickle_with(net, opt=tuple(opt))


def test_a_small_state_cannot_declare_a_huge_architecture():
    # the engine was built (the declared architecture allocated: 2**33
    # float64 here) before params were found not to fit it
    net = Network([2, 3, 1], seed=0)
    state = net.__getstate__()
    out, peak = peak_bytes(lambda: unpickle_with(net, sizes=[2 ** 16, 2 ** 17, 1],
                                                 activations=["relu", "linear"], opt=None,
                                                 params=state["params"]))
    assert isinstance(out, ValueError) and "params must have shape" in str(out), out
    assert peak < 1 << 20, peak


def test_a_failed_setstate_leaves_the_network_unchanged():
    net = fitted()
    before = net.__getstate__()
    bad = dict(before, params=np.full_like(before["params"], np.nan))
    with pytest.raises(ValueError, match="NaN"):
        net.__setstate__(bad)
    after = net.__getstate__()
    assert np.array_equal(after["params"], before["params"])
    assert after["sizes"] == before["sizes"]


def npz_bytes(arrays, compression=zipfile.ZIP_STORED, shapes=None):
    """An .npz archive of these arrays; shapes: {name: shape} written into a
    member's header in place of its own (its data unchanged)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            data = member.getvalue()
            if shapes and name in shapes:
                header = np.lib.format.header_data_from_array_1_0(np.asarray(arr))
                header["shape"] = shapes[name]
                head = io.BytesIO()
                np.lib.format.write_array_header_1_0(head, header)
                old = io.BytesIO(data)
                np.lib.format.read_magic(old)
                np.lib.format.read_array_header_1_0(old)
                data = head.getvalue() + data[old.tell():]
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def saved_arrays(tmp_path, net):
    with np.load(net.save(tmp_path / "orig.npz"), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_a_small_file_cannot_declare_a_huge_architecture(tmp_path):
    # fuzz_load's memory check: a 1 kB file declaring W0 of 8192 x 8192 made
    # numpy allocate the 512 MB array before finding the data missing
    arrays = saved_arrays(tmp_path, Network([2, 3, 1], bias=False, seed=0))
    arrays["sizes"] = np.array([8192, 8192, 1])
    arrays["W1"] = np.zeros((8192, 1))
    path = tmp_path / "small.npz"
    path.write_bytes(npz_bytes(arrays, shapes={"W0": (8192, 8192)}))
    out, peak = peak_bytes(lambda: Network.load(path))
    assert isinstance(out, ValueError) and "less than its shape" in str(out), out
    assert peak < 8 << 20, peak


def test_members_in_other_compression_methods_are_refused(tmp_path):
    arrays = saved_arrays(tmp_path, Network([2, 3, 1], seed=0))
    path = tmp_path / "bz.npz"
    path.write_bytes(npz_bytes(arrays, compression=zipfile.ZIP_BZIP2))
    with pytest.raises(ValueError, match="compression method"):
        Network.load(path)


def test_deflated_files_still_load(tmp_path):
    net = Network([3, 5, 2], activation=["tanh", "softmax"], seed=0)
    path = tmp_path / "deflated.npz"
    path.write_bytes(npz_bytes(saved_arrays(tmp_path, net), compression=zipfile.ZIP_DEFLATED))
    loaded = Network.load(path)
    assert np.array_equal(loaded.__getstate__()["params"], net.__getstate__()["params"])


def test_a_member_claiming_more_than_the_archive_holds_is_refused(tmp_path):
    data = bytearray(open(Network([2, 3, 1], seed=0).save(tmp_path / "n.npz"), "rb").read())
    # the last central-directory entry's compressed and uncompressed sizes, grown
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        last = z.infolist()[-1]
    cd = data.rfind(b"PK\x01\x02")
    assert cd > 0
    for offset in (20, 24):  # compressed size, uncompressed size
        data[cd + offset:cd + offset + 4] = (last.file_size + 10 ** 6).to_bytes(4, "little")
    path = tmp_path / "claims.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or corrupted|not a readable|not a valid"):
        Network.load(path)


def test_an_epoch_of_finite_batch_losses_has_a_finite_mean_loss():
    """Found by the api fuzz target: two per-sample steps whose bce losses (1.7e308
    and 8.1e307) are finite, but whose sum is not.  The epoch's mean,
    (1.7e308 + 8.1e307) / 2, is finite, and History.loss must be that mean (it was
    inf, without FloatingPointError)."""
    net = Network([1, 1], activation="sigmoid", bias=False, seed=0)
    W0 = np.array([[7.949055388578493e+307]])
    net.weights = [W0]
    X = np.array([[-2.16434197], [1.15302261]])
    y = np.array([[0.99263174], [0.11717218]])
    history = net.fit(X, y, loss="bce", optimizer="adam", epochs=1, lr=1e30, batch_size=1, beta1=0.5,
                      shuffle=False)
    # Adam's first steps move W by about lr = 1e30, below half an ulp of W (2^971):
    # both rows see W0, and each loss is bce's stable form max(z, 0) - z y + log1p(exp(-|z|))
    assert net.weights[0][0, 0] == W0[0, 0]
    z = W0[0, 0] * X[:, 0]
    losses = np.maximum(z, 0) - z * y[:, 0] + np.log1p(np.exp(-np.abs(z)))
    assert np.all(np.isfinite(losses)) and not np.isfinite(losses.sum())  # the case
    np.testing.assert_allclose(history.loss, [losses[0] / 2 + losses[1] / 2], rtol=1e-15)
    more = net.fit(X, y, loss="bce", optimizer="adam", epochs=3, lr=1e30, batch_size=1, beta1=0.5)
    assert all(np.isfinite(more.loss)), more.loss


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_the_mean_loss_of_an_epoch_is_unchanged_when_its_sum_is_finite(loss):
    """The overflow-safe mean is read only when the plain sum overflowed: an
    ordinary epoch's loss is still the plain mean of its batch losses."""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(7, 3)), rng.uniform(0.1, 0.9, size=(7, 1))
    net = Network([3, 4, 1], activation="sigmoid", seed=0)
    W, b = [w.copy() for w in net.weights], [c.copy() for c in net.biases]
    history = net.fit(X, y, loss=loss, epochs=2, lr=0.5, batch_size=3, shuffle=False)
    _, _, expected = reference.fit(W, b, "sigmoid", X, y, epochs=2, lr=0.5, loss=loss, batch_size=3)
    np.testing.assert_allclose(history.loss, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["f8,,", "i4, )"])
def test_a_dtype_string_numpy_cannot_parse_is_a_value_error(dtype):
    """Found by the load fuzz target (a pickled state's dtype): numpy's parser of
    comma strings raises SyntaxError, which escaped as such."""
    with pytest.raises(ValueError, match="dtype"):
        Network([2, 1], dtype=dtype)
    net = Network([2, 1], seed=0)
    state = net.__getstate__()
    state["dtype"] = dtype
    fresh = Network.__new__(Network)
    with pytest.raises(ValueError, match="dtype"):
        fresh.__setstate__(state)
