"""nnext.datasets: IDX files and the MNIST / Fashion-MNIST loaders.

The IDX files are written here byte by byte (struct), independently of the
reader under test.  Downloads go only to a local HTTP server on 127.0.0.1 that
serves files this module writes; nothing else touches the network.
"""
import functools
import gzip
import hashlib
import http.server
import importlib.util
import os
import pathlib
import struct
import threading
import tracemalloc

import numpy as np
import pytest

import nnext
from nnext import datasets
from nnext.datasets import load_idx, load_mnist

from conftest import require_data

# type code -> (big-endian struct letter, native numpy dtype)
CODES = {0x08: ("B", np.uint8), 0x09: ("b", np.int8), 0x0B: ("h", np.int16),
         0x0C: ("i", np.int32), 0x0D: ("f", np.float32), 0x0E: ("d", np.float64)}
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


def idx_bytes(code, shape, values):
    """An IDX file's bytes, written from the format's description."""
    letter = CODES[code][0]
    header = bytes([0, 0, code, len(shape)]) + struct.pack(">%dI" % len(shape), *shape)
    return header + struct.pack(">%d%s" % (len(values), letter), *values)


def write(path, data, compress):
    path = pathlib.Path(path)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# ---------------------------------------------------------------- load_idx

def test_known_bytes(tmp_path):
    """Files spelled out byte by byte, and the arrays they must give."""
    raw = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 255])
    expected = np.array([[0, 1, 2], [3, 4, 255]], dtype=np.uint8)
    for compress in (False, True):
        a = load_idx(write(tmp_path / f"u8-{compress}", raw, compress))
        assert a.dtype == np.uint8 and a.shape == (2, 3)
        np.testing.assert_array_equal(a, expected)
    # big-endian int16 0x0102 = 258 and 0xFFFE = -2; float64 1.5 as its IEEE bytes
    raw16 = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    raw64 = bytes([0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0])
    a16 = load_idx(write(tmp_path / "i16", raw16, False))
    a64 = load_idx(write(tmp_path / "f64", raw64, True))
    assert a16.tolist() == [258, -2] and a16.dtype == np.int16
    assert a64.tolist() == [1.5] and a64.dtype == np.float64


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("code", sorted(CODES), ids=lambda c: f"0x{c:02X}")
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (0, 28, 28), (1, 1, 1, 2)])
def test_round_trip(tmp_path, code, shape, compress):
    rng = np.random.default_rng(code * 100 + len(shape))
    n = int(np.prod(shape))
    dtype = CODES[code][1]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=n, endpoint=True).astype(dtype)
    else:
        values = (rng.standard_normal(n) * 1e3).astype(dtype)
    path = write(tmp_path / "data.idx", idx_bytes(code, shape, values.tolist()), compress)
    a = load_idx(path)
    assert a.shape == shape
    assert a.dtype == np.dtype(dtype) and a.dtype.isnative
    assert a.flags.c_contiguous and a.flags.writeable
    np.testing.assert_array_equal(a.ravel(), values)


def test_format_is_detected_by_content_not_name(tmp_path):
    data = idx_bytes(0x08, (3,), [1, 2, 3])
    np.testing.assert_array_equal(load_idx(write(tmp_path / "looks-raw.idx", data, True)), [1, 2, 3])
    np.testing.assert_array_equal(load_idx(write(tmp_path / "looks-gzipped.gz", data, False)), [1, 2, 3])


def test_path_types(tmp_path):
    path = write(tmp_path / "x", idx_bytes(0x08, (2,), [5, 6]), False)
    for p in (path, str(path), os.fsencode(str(path))):
        assert load_idx(p).tolist() == [5, 6]
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_idx(3)
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "missing")


def _malformed_cases():
    good = idx_bytes(0x0C, (2, 3), [1, 2, 3, 4, 5, 6])  # 4 + 8 + 24 = 36 bytes
    return {
        "empty": (b"", "magic number"),
        "3 bytes": (b"\x00\x00\x08", "magic number"),
        "magic 1st byte": (b"\x01" + good[1:], "magic number must start with two zero bytes"),
        "magic 2nd byte": (b"\x00\x08" + good[2:], "magic number must start with two zero bytes"),
        "type 0x0A": (good[:2] + b"\x0a" + good[3:], "unknown IDX type code 0x0A"),
        "type 0x07": (good[:2] + b"\x07" + good[3:], "unknown IDX type code 0x07"),
        "type 0xFF": (good[:2] + b"\xff" + good[3:], "unknown IDX type code 0xFF"),
        "0 dimensions": (b"\x00\x00\x08\x00" + b"\x05", "0 dimensions"),
        "dims cut": (good[:9], "truncated"),
        "no values": (good[:12], "truncated"),
        "values cut": (good[:35], "truncated"),
        "one byte more": (good + b"\x00", "trailing data"),
        "many bytes more": (good + bytes(1000), "trailing data"),
        "more dimensions declared": (good[:3] + b"\x03" + good[4:], "truncated"),
        "fewer dimensions declared": (good[:3] + b"\x01" + good[4:], "trailing data"),
        "text": (b"hello, world\n", "not an IDX file"),
    }


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("case", sorted(_malformed_cases()))
def test_malformed(tmp_path, case, compress):
    data, message = _malformed_cases()[case]
    path = write(tmp_path / "bad-file.idx", data, compress)
    with pytest.raises(ValueError, match=message) as e:
        load_idx(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_every_cut_point(tmp_path, compress):
    """Every proper prefix of a valid file is refused (raw: the IDX bytes cut;
    gzip: the compressed stream cut)."""
    data = idx_bytes(0x0D, (3, 2), [0.5, -1, 2, 3, 4, 1e30])
    stored = gzip.compress(data) if compress else data
    path = tmp_path / "f"
    path.write_bytes(stored)
    assert load_idx(path).shape == (3, 2)
    for cut in range(len(stored)):
        path.write_bytes(stored[:cut])
        with pytest.raises(ValueError, match="truncated|damaged"):
            load_idx(path)


def test_gzip_damage(tmp_path):
    data = idx_bytes(0x08, (50,), list(range(50)))
    gz = bytearray(gzip.compress(data))
    path = tmp_path / "damaged.gz"
    crc = bytearray(gz)
    crc[-8] ^= 0xFF  # the CRC-32 of the trailer
    path.write_bytes(bytes(crc))
    with pytest.raises(ValueError, match="damaged.gz"):
        load_idx(path)
    size = bytearray(gz)
    size[-1] ^= 0x01  # the length in the trailer
    path.write_bytes(bytes(size))
    with pytest.raises(ValueError, match="damaged.gz"):
        load_idx(path)
    # A second gzip member carrying extra bytes is data after the declared values.
    path.write_bytes(bytes(gz) + gzip.compress(b"\x07"))
    with pytest.raises(ValueError, match="trailing data"):
        load_idx(path)
    # Two members that together hold exactly the file are a valid gzip stream.
    path.write_bytes(gzip.compress(data[:20]) + gzip.compress(data[20:]))
    assert load_idx(path).tolist() == list(range(50))


def test_huge_header_small_data_bounded_memory(tmp_path):
    """A header claiming about 10**12 values costs no more memory than the data present."""
    header = bytes([0, 0, 0x0E, 2]) + struct.pack(">II", 1_000_000, 1_000_000)
    for compress in (False, True):
        path = write(tmp_path / f"huge{compress}", header + bytes(800), compress)
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="truncated"):
                load_idx(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 << 20, peak


def test_reads_at_most_one_byte_past_the_declared_length(tmp_path):
    """10 declared bytes followed by 200 MB of zeros (a 200 kB gzip): refused at once,
    without decompressing the rest."""
    head = idx_bytes(0x08, (10,), list(range(10)))
    comp = zlib_gzip(head, 200 << 20)
    path = tmp_path / "bomb.gz"
    path.write_bytes(comp)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="trailing data"):
            load_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def zlib_gzip(head, zeros):
    """gzip of head + zeros zero bytes, compressed in pieces (never holding the zeros)."""
    import zlib
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(head)]
    block = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(c.compress(block))
    parts.append(c.flush())
    return b"".join(parts)


# ---------------------------------------------------------------- load_mnist

def make_set(folder, n_train=6, n_test=4, compress=True, seed=0, labels=None, image_shape=(28, 28),
             image_code=0x08):
    """The four MNIST files of a small random set; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        X = rng.integers(0, 256, size=(n,) + image_shape)
        y = rng.integers(0, 10, size=n) if labels is None else np.asarray(labels[split])
        for name, code, arr in ((f"{split}-images-idx3-ubyte", image_code, X),
                                (f"{split}-labels-idx1-ubyte", 0x08, y)):
            data = idx_bytes(code, arr.shape, arr.ravel().tolist())
            write(folder / (name + (".gz" if compress else "")), data, compress)
        out[split] = (X.reshape(n, -1), y)
    return out


def check_loaded(result, written):
    (X, y), (Xt, yt) = result
    for (A, b), (WA, wb) in (((X, y), written["train"]), ((Xt, yt), written["t10k"])):
        assert A.dtype == np.uint8 and b.dtype == np.uint8
        assert A.shape == (len(WA), 784) and b.shape == (len(wb),)
        np.testing.assert_array_equal(A, WA)
        np.testing.assert_array_equal(b, wb)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No search path from the environment, an empty cache, no system folders."""
    monkeypatch.delenv(datasets.ENV_PATH, raising=False)
    monkeypatch.delenv(datasets.ENV_BASE_URL, raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", (str(tmp_path / "system"),))
    return tmp_path


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_from_path(isolated, compress):
    written = make_set(isolated / "set", compress=compress)
    check_loaded(load_mnist("mnist", path=isolated / "set"), written)
    check_loaded(load_mnist("fashion", path=str(isolated / "set")), written)


def test_from_path_mixed_names(isolated):
    written = make_set(isolated / "set", compress=True)
    f = isolated / "set" / "t10k-labels-idx1-ubyte.gz"
    (isolated / "set" / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(f.read_bytes()))
    f.unlink()
    check_loaded(load_mnist(path=isolated / "set"), written)


def test_path_missing_files(isolated):
    make_set(isolated / "set")
    (isolated / "set" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks the mnist files t10k-images-idx3-ubyte\[\.gz\]"):
        load_mnist(path=isolated / "set")
    # an explicit path is the only place looked at, even if the data is elsewhere
    make_set(isolated / "system" / "mnist")
    with pytest.raises(FileNotFoundError):
        load_mnist(path=isolated / "set")


def test_env_search_path(isolated, monkeypatch):
    written = make_set(isolated / "b" / "fashion-mnist", seed=3)
    other = make_set(isolated / "b" / "mnist", seed=4)
    monkeypatch.setenv(datasets.ENV_PATH, os.pathsep.join([str(isolated / "a"), str(isolated / "b")]))
    check_loaded(load_mnist("fashion", cache_dir=isolated / "cache"), written)
    check_loaded(load_mnist("mnist", cache_dir=isolated / "cache"), other)
    # the first folder that has the files wins
    first = make_set(isolated / "a" / "fashion-mnist", seed=5)
    check_loaded(load_mnist("fashion", cache_dir=isolated / "cache"), first)


def test_system_folder_and_cache(isolated):
    system = make_set(isolated / "system" / "fashion-mnist", seed=6)
    check_loaded(load_mnist("fashion", cache_dir=isolated / "cache"), system)
    cached = make_set(isolated / "cache" / "fashion-mnist", seed=7)
    check_loaded(load_mnist("fashion", cache_dir=isolated / "cache"), cached)  # cache comes first


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.default_cache_dir() == str(tmp_path / "xdg" / "nnext")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.default_cache_dir() == str(tmp_path / "home" / ".cache" / "nnext")


def test_not_found(isolated):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as e:
        load_mnist("fashion", cache_dir=isolated / "cache")
    assert str(isolated / "system" / "fashion-mnist") in str(e.value)
    assert str(isolated / "cache" / "fashion-mnist") in str(e.value)
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_mnist("mnist", cache_dir=isolated / "cache")


@pytest.mark.parametrize("bad, message", [
    (dict(labels={"train": [0, 1, 2, 10, 4, 5], "t10k": [1, 2, 3, 4]}), "labels must be 0 to 9, found 10"),
    (dict(image_shape=(27, 27)), r"expected uint8 images of shape \(n, 28, 28\)"),
    (dict(image_shape=(784,)), r"expected uint8 images of shape \(n, 28, 28\)"),
    (dict(image_code=0x0B), r"expected uint8 images of shape \(n, 28, 28\), got int16"),
])
def test_wrong_contents(isolated, bad, message):
    make_set(isolated / "set", **bad)
    with pytest.raises(ValueError, match=message):
        load_mnist(path=isolated / "set")


def test_label_count_mismatch(isolated):
    make_set(isolated / "set")
    write(isolated / "set" / "train-labels-idx1-ubyte.gz", idx_bytes(0x08, (5,), [1, 2, 3, 4, 5]), True)
    with pytest.raises(ValueError, match="5 labels for the 6 images"):
        load_mnist(path=isolated / "set")


def test_bad_arguments(isolated):
    with pytest.raises(ValueError, match=r"kind must be one of \['fashion', 'mnist'\], got 'cifar'"):
        load_mnist("cifar")
    with pytest.raises(TypeError, match="kind must be a str"):
        load_mnist(1)
    with pytest.raises(TypeError, match="download must be a bool, got str"):
        load_mnist("mnist", download="yes")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_mnist("mnist", path=5)
    with pytest.raises(TypeError, match="cache_dir must be a str or os.PathLike, got list"):
        load_mnist("mnist", cache_dir=[])
    with pytest.raises(TypeError, match="base_url must be a str"):
        load_mnist("mnist", download=True, base_url=3, cache_dir=isolated / "c")
    with pytest.raises(TypeError, match="sha256 must be a dict"):
        load_mnist("mnist", download=True, sha256=["x"], cache_dir=isolated / "c")


def test_official_digests_are_well_formed():
    for kind, (subdir, mirrors, digests) in datasets.KINDS.items():
        assert sorted(digests) == sorted(n + ".gz" for n in NAMES)
        for d in digests.values():
            assert len(d) == 64 and int(d, 16) >= 0
        assert all(m.endswith("/") for m in mirrors)
    assert nnext.datasets is datasets


# ---------------------------------------------------------------- downloads

class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; yields (base URL, folder, requests)."""
    served = tmp_path / "served"
    served.mkdir()
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    requests = []
    handler = type("Handler", (_Quiet,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/data/", served, requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def served_set(served, **kw):
    written = make_set(served / "data", **kw)
    digests = {n + ".gz": hashlib.sha256((served / "data" / (n + ".gz")).read_bytes()).hexdigest()
               for n in NAMES}
    return written, digests


def test_download(isolated, server):
    url, served, requests = server
    written, digests = served_set(served)
    cache = isolated / "cache"
    check_loaded(load_mnist("mnist", download=True, cache_dir=cache, base_url=url, sha256=digests), written)
    assert sorted(requests) == sorted("/data/" + n + ".gz" for n in NAMES)
    assert sorted(os.listdir(cache / "mnist")) == sorted(n + ".gz" for n in NAMES)
    for n in NAMES:  # kept byte for byte
        assert (cache / "mnist" / (n + ".gz")).read_bytes() == (served / "data" / (n + ".gz")).read_bytes()
    # Now found in the cache: no more requests, with or without download=True.
    del requests[:]
    check_loaded(load_mnist("mnist", cache_dir=cache), written)
    check_loaded(load_mnist("mnist", download=True, cache_dir=cache, base_url=url, sha256=digests), written)
    assert requests == []


def test_download_base_url_from_environment(isolated, server, monkeypatch):
    url, served, requests = server
    written, digests = served_set(served, seed=11)
    monkeypatch.setenv(datasets.ENV_BASE_URL, url.rstrip("/"))
    check_loaded(load_mnist("fashion", download=True, cache_dir=isolated / "c", sha256=digests), written)
    assert len(requests) == 4
    assert os.path.isdir(isolated / "c" / "fashion-mnist")


def test_download_bad_checksum(isolated, server):
    url, served, requests = server
    _, digests = served_set(served)
    wrong = dict(digests)
    wrong["t10k-images-idx3-ubyte.gz"] = hashlib.sha256(b"something else").hexdigest()
    cache = isolated / "cache"
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: SHA-256 mismatch") as e:
        load_mnist("mnist", download=True, cache_dir=cache, base_url=url, sha256=wrong)
    assert digests["t10k-images-idx3-ubyte.gz"] in str(e.value)  # what came
    assert "t10k-images-idx3-ubyte.gz" not in os.listdir(cache / "mnist")  # not kept
    assert not [f for f in os.listdir(cache / "mnist") if f.endswith(".part")]
    # The official digests do not match these small files either.
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_mnist("mnist", download=True, cache_dir=isolated / "cache2", base_url=url)
    assert os.listdir(isolated / "cache2" / "mnist") == []


def test_download_missing_on_server(isolated, server):
    url, served, requests = server
    _, digests = served_set(served)
    (served / "data" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(OSError, match="could not download mnist file train-labels-idx1-ubyte.gz"):
        load_mnist("mnist", download=True, cache_dir=isolated / "cache", base_url=url, sha256=digests)
    assert not [f for f in os.listdir(isolated / "cache" / "mnist") if f.endswith(".part")]


def test_download_corrupt_but_matching_file_is_refused_on_load(isolated, server):
    """The digest guards the transfer; the IDX checks still guard the contents."""
    url, served, requests = server
    make_set(served / "data")
    f = served / "data" / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-30])
    digests = {n + ".gz": hashlib.sha256((served / "data" / (n + ".gz")).read_bytes()).hexdigest()
               for n in NAMES}
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        load_mnist("mnist", download=True, cache_dir=isolated / "cache", base_url=url, sha256=digests)


# ---------------------------------------------------------------- the real files

def test_debian_fashion_mnist(tmp_path, monkeypatch):
    require_data(os.path.isdir(DEBIAN_FASHION), f"Debian's Fashion-MNIST ({DEBIAN_FASHION})",
                 "apt-get install dataset-fashion-mnist")
    monkeypatch.delenv(datasets.ENV_PATH, raising=False)
    (X, y), (Xt, yt) = load_mnist("fashion", cache_dir=tmp_path)  # found in the system folder
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert X.dtype == Xt.dtype == y.dtype == yt.dtype == np.uint8
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class
    assert np.bincount(y).tolist() == [6000] * 10
    assert np.bincount(yt).tolist() == [1000] * 10
    assert X.min() == 0 and X.max() == 255
    # The same arrays as the data set's own reader, shipped with the package
    reader = "/usr/share/doc/dataset-fashion-mnist/utils/mnist_reader.py"
    if os.path.isfile(reader):
        spec = importlib.util.spec_from_file_location("mnist_reader", reader)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        X2, y2 = module.load_mnist(DEBIAN_FASHION, kind="train")
        Xt2, yt2 = module.load_mnist(DEBIAN_FASHION, kind="t10k")
        np.testing.assert_array_equal(X, X2)
        np.testing.assert_array_equal(y, y2)
        np.testing.assert_array_equal(Xt, Xt2)
        np.testing.assert_array_equal(yt, yt2)
