"""Real data: IDX files (the MNIST format) and the MNIST / Fashion-MNIST sets.

``load_idx(path)`` reads one IDX file, gzip-compressed or raw, into a NumPy
array.  ``load_mnist(kind)`` returns ``(X_train, y_train), (X_test, y_test)``
for MNIST (``kind="mnist"``) or Fashion-MNIST (``kind="fashion"``), found in a
folder you name, in the places a system installs them (Debian's
``dataset-fashion-mnist`` package: ``/usr/share/datasets/fashion-mnist/``), in
nnext's cache folder, or, with ``download=True``, fetched from the official
mirrors and checked against their SHA-256 digests.

The two-dimensional toy sets of TensorFlow Playground (``circle``, ``xor``,
``gaussians``, ``spiral`` for classification; ``plane``,
``multi_gaussian`` for regression), seeded, and ``split`` into training and
test rows: see "Toy data sets" below.

Only the standard library and NumPy are used.
"""
import gzip
import hashlib
import http.client
import os
import stat
import tempfile
import urllib.request
import zlib

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["load_idx", "load_mnist", "circle", "xor", "gaussians", "spiral", "plane",
           "multi_gaussian", "split", "TOY_CLASSIFICATION", "TOY_REGRESSION"]

# ---------------------------------------------------------------- IDX files
#
# An IDX file is a 4-byte magic number -- two zero bytes, a type code, the
# number of dimensions d -- then d big-endian unsigned 32-bit sizes, then the
# values in C order, big-endian.  (Yann LeCun's description of the MNIST files.)

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes read at a time from a compressed stream


def _check_path(path, name="path"):
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _read_exactly(f, n, where, what):
    """n bytes from f, or ValueError saying the file ends early."""
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"{where}: truncated IDX file: the {what} needs {n} bytes, "
                         f"the file has {len(data)}")
    return data


_MAX_DIMS = None


def _max_dims():
    """The most dimensions a numpy array may have (32 in numpy 1, 64 in numpy 2)."""
    global _MAX_DIMS
    if _MAX_DIMS is None:
        n = 64
        while n > 1:
            try:
                np.empty((1,) * n, dtype=np.uint8)
                break
            except ValueError:
                n //= 2
        _MAX_DIMS = n
    return _MAX_DIMS


def _read_idx(f, where, size=None):
    """Parse the IDX stream f (already decompressed).  size: the stream's length
    in bytes when known (a raw file), checked before any large allocation."""
    magic = _read_exactly(f, 4, where, "magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{where}: not an IDX file: its magic number must start with two zero "
                         f"bytes, got 0x{magic.hex()}")
    code, ndim = magic[2], magic[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(f"{where}: unknown IDX type code 0x{code:02X} (expected one of {known})")
    if ndim == 0:
        raise ValueError(f"{where}: the IDX header declares 0 dimensions (expected at least 1)")
    if ndim > _max_dims():
        raise ValueError(f"{where}: the IDX header declares {ndim} dimensions; a numpy array has at "
                         f"most {_max_dims()}")
    dtype = IDX_TYPES[code]
    shape = tuple(int(d) for d in np.frombuffer(
        _read_exactly(f, 4 * ndim, where, f"header of {ndim} dimensions"), dtype=">u4"))
    count = 1
    for d in shape:
        count *= d
    nbytes = count * dtype.itemsize
    header = 4 + 4 * ndim
    if size is not None and size != header + nbytes:
        problem = "truncated" if size < header + nbytes else "trailing data after the values"
        raise ValueError(f"{where}: {problem}: the header declares shape {shape} of {dtype.name}, "
                         f"{header + nbytes} bytes in all, the file has {size}")
    if nbytes > np.iinfo(np.intp).max:
        raise ValueError(f"{where}: the header declares shape {shape}, too large to hold in memory")
    if size is not None:
        # The length is known to be right: read straight into the array.
        data = np.empty(count, dtype=dtype)
        got = f.readinto(memoryview(data).cast("B")) if nbytes else 0
        if got != nbytes:
            raise ValueError(f"{where}: truncated: expected {nbytes} bytes of values, got {got}")
    else:
        # Compressed: the real length shows only while reading.  Grow the buffer
        # as data comes, so a header that lies costs no more memory than the data.
        buf = bytearray()
        while len(buf) < nbytes:
            chunk = f.read(min(_CHUNK, nbytes - len(buf)))
            if not chunk:
                raise ValueError(f"{where}: truncated: the header declares shape {shape} of "
                                 f"{dtype.name}, {nbytes} bytes of values; the file has {len(buf)}")
            buf += chunk
        data = np.frombuffer(buf, dtype=dtype) if nbytes else np.empty(0, dtype=dtype)
    if f.read(1):
        raise ValueError(f"{where}: trailing data after the {header + nbytes} bytes its header "
                         f"declares (shape {shape} of {dtype.name})")
    return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _open_regular(path):
    """path opened for reading in binary, or ValueError naming it when it is not a
    regular file: a FIFO would block the call until a writer comes (opened without
    blocking, then checked), and a device could stream without end."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
                "a device or socket"
            raise ValueError(f"{path}: not a regular file ({kind}): an IDX file is read from a "
                             f"regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load_idx(path: Union[str, "os.PathLike[str]"]) -> NDArray[Any]:
    """Read an IDX file (the MNIST format), gzip-compressed or raw, into an array.

    The file is recognised by its first bytes (``1f 8b``: gzip), not by its
    name.  Returns a C-ordered array of the header's shape and type, in native
    byte order: type code 0x08 -> ``uint8``, 0x09 ``int8``, 0x0B ``int16``,
    0x0C ``int32``, 0x0D ``float32``, 0x0E ``float64``.

    A ``ValueError`` naming the file is raised for anything that is not a
    complete IDX file: a wrong magic number, an unknown type code, zero
    dimensions or more than a numpy array can have, fewer bytes than the header
    declares, bytes after them, a damaged gzip stream, or a path that is not a
    regular file (a FIFO, a device, a directory: refused at once, never waited on).  At most the declared length plus one byte is read,
    and memory grows with the data actually present, not with what the header
    claims.  A missing file raises ``FileNotFoundError``.
    """
    path = _check_path(path)
    with _open_regular(path) as raw:
        start = raw.read(2)
        raw.seek(0)
        if start == _GZIP_MAGIC:
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                    return _read_idx(f, path)
            except (EOFError, zlib.error, gzip.BadGzipFile) as e:
                raise ValueError(f"{path}: damaged or truncated gzip data: {e}") from None
        return _read_idx(raw, path, size=os.fstat(raw.fileno()).st_size)


# ---------------------------------------------------------------- MNIST sets

_NAMES = {  # part -> the official file name, without .gz
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# kind -> (folder name used by system packages and the cache, mirrors, SHA-256 of the .gz files)
# The digests are those of the files the official mirrors serve (the MNIST ones
# are Yann LeCun's original files, 9,912,422 bytes for the training images).
KINDS = {
    "mnist": (
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion": (
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
}

# Where systems install the data sets; <folder> is KINDS[kind][0].
SYSTEM_DIRS = ("/usr/share/datasets", "/usr/local/share/datasets")
ENV_PATH = "NNEXT_DATA_PATH"        # extra folders to search, os.pathsep-separated
ENV_BASE_URL = "NNEXT_MNIST_BASE_URL"  # a mirror to download from instead of the official ones
MAX_DOWNLOAD_BYTES = 64 << 20       # the largest official file is 26.4 MB

FASHION_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/nnext``, else ``~/.cache/nnext``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nnext")


def _find_files(folder):
    """The four files in folder (each name with or without .gz), or None if any is missing."""
    found = {}
    for part, name in _NAMES.items():
        for candidate in (name + ".gz", name):
            full = os.path.join(folder, candidate)
            if os.path.isfile(full):
                found[part] = full
                break
        else:
            return None
    return found


def _search_dirs(subdir, cache_dir):
    dirs = [os.path.join(d, subdir) for d in os.environ.get(ENV_PATH, "").split(os.pathsep) if d]
    dirs.append(os.path.join(cache_dir, subdir))
    dirs += [os.path.join(d, subdir) for d in SYSTEM_DIRS]
    return dirs


def _download(url, target, sha256):
    """Fetch url into target through a temporary file in the same folder; keep it
    only if its SHA-256 is sha256 (else ValueError, nothing kept)."""
    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".nnext-", suffix=".part")
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise ValueError(f"{url}: more than {MAX_DOWNLOAD_BYTES} bytes: not an MNIST file")
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != sha256.lower():
            raise ValueError(f"{url}: SHA-256 mismatch: expected {sha256.lower()}, got {got} "
                             f"({size} bytes); the file was not kept")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _fetch(kind, folder, base_urls, sha256):
    os.makedirs(folder, exist_ok=True)
    for name in _NAMES.values():
        fname = name + ".gz"
        target = os.path.join(folder, fname)
        if fname not in sha256:
            raise ValueError(f"sha256 has no digest for {fname!r}")
        if os.path.isfile(target):
            continue
        errors = []
        for base in base_urls:
            url = base.rstrip("/") + "/" + fname
            try:
                _download(url, target, sha256[fname])
                break
            except (OSError, http.client.HTTPException) as e:  # URLError is an OSError; try the next mirror
                errors.append(f"{url}: {e}")
        else:
            raise OSError(f"could not download {kind} file {fname}: " + "; ".join(errors))


def load_mnist(kind: str = "mnist", path: Optional[str] = None, download: bool = False,
               cache_dir: Optional[str] = None, base_url: Union[None, str, Sequence[str]] = None,
               sha256: Optional[dict] = None
               ) -> Tuple[Tuple[NDArray[Any], NDArray[Any]], Tuple[NDArray[Any], NDArray[Any]]]:
    """MNIST or Fashion-MNIST as ``(X_train, y_train), (X_test, y_test)``.

    ``X_*`` are ``uint8`` arrays of shape ``(n, 784)``: one 28x28 image per
    row, pixels in C order, 0 (background) to 255, as stored in the files
    (``X.reshape(-1, 28, 28)`` gives the images; scale with ``X / 255`` for
    training).  ``y_*`` are ``uint8`` arrays of shape ``(n,)``, labels 0 to 9
    (integer labels are what ``fit(..., loss="cross_entropy")`` takes).  The
    full sets have 60,000 training and 10,000 test rows.

    - ``kind``: ``"mnist"`` (handwritten digits) or ``"fashion"``
      (Fashion-MNIST: ``FASHION_LABELS`` names its classes).
    - ``path``: a folder holding the four files, each ``.gz`` or raw
      (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
      ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``).  When
      given, it is the only place looked at.
    - Otherwise the files are looked for in ``<dir>/<name>/`` where ``<name>``
      is ``mnist`` or ``fashion-mnist`` and ``<dir>`` is, in order: each folder
      of the ``NNEXT_DATA_PATH`` environment variable (``os.pathsep``-separated),
      the cache folder, ``/usr/share/datasets`` (Debian's
      ``dataset-fashion-mnist`` package installs there) and
      ``/usr/local/share/datasets``.
    - ``download=True``: if they are found nowhere, download the four ``.gz``
      files into ``<cache_dir>/<name>/`` and check each one's SHA-256 (a
      mismatch raises ``ValueError`` and the file is not kept).  ``cache_dir``
      defaults to ``$XDG_CACHE_HOME/nnext`` or ``~/.cache/nnext``.
      ``base_url`` (or the ``NNEXT_MNIST_BASE_URL`` environment variable)
      replaces the official mirrors by one of your own; ``sha256`` maps file
      names to the digests expected from it (default: the official files').

    Raises ``FileNotFoundError`` listing the places looked at when the files
    are not found and ``download`` is false, ``ValueError`` for files that are
    not the expected IDX data (wrong type or shape, labels outside 0-9,
    image and label counts that differ).
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str ({sorted(KINDS)}), got {type(kind).__name__}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if not isinstance(download, bool):
        raise TypeError(f"download must be a bool, got {type(download).__name__}")
    subdir, mirrors, official = KINDS[kind]
    cache_dir = default_cache_dir() if cache_dir is None else _check_path(cache_dir, "cache_dir")
    if base_url is None:
        base_url = os.environ.get(ENV_BASE_URL) or None
    if base_url is not None and not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    if sha256 is None:
        sha256 = official
    elif not isinstance(sha256, dict):
        raise TypeError(f"sha256 must be a dict of file name -> hex digest, got {type(sha256).__name__}")

    if path is not None:
        folder = _check_path(path)
        files = _find_files(folder)
        if files is None:
            missing = [n for n in _NAMES.values()
                       if not any(os.path.isfile(os.path.join(folder, n + s)) for s in (".gz", ""))]
            raise FileNotFoundError(f"path {folder!r} lacks the {kind} files "
                                    + ", ".join(n + "[.gz]" for n in missing))
    else:
        looked = _search_dirs(subdir, cache_dir)
        files = None
        for folder in looked:
            files = _find_files(folder)
            if files is not None:
                break
        if files is None:
            if not download:
                hint = (" (on Debian: apt-get install dataset-fashion-mnist)" if kind == "fashion" else "")
                raise FileNotFoundError(
                    f"the {kind} files were not found in " + ", ".join(looked)
                    + f"; pass path=, or download=True{hint}")
            folder = os.path.join(cache_dir, subdir)
            _fetch(kind, folder, (base_url,) if base_url is not None else mirrors, sha256)
            files = _find_files(folder)

    arrays = {part: load_idx(f) for part, f in files.items()}
    for split in ("train", "test"):
        X, y = arrays[split + "_images"], arrays[split + "_labels"]
        xf, yf = files[split + "_images"], files[split + "_labels"]
        if X.dtype != np.uint8 or X.ndim != 3 or X.shape[1:] != (28, 28):
            raise ValueError(f"{xf}: expected uint8 images of shape (n, 28, 28), "
                             f"got {X.dtype} of shape {X.shape}")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise ValueError(f"{yf}: expected uint8 labels of shape (n,), got {y.dtype} of shape {y.shape}")
        if len(y) != len(X):
            raise ValueError(f"{yf}: {len(y)} labels for the {len(X)} images of {xf}")
        if len(y) and y.max() > 9:
            raise ValueError(f"{yf}: labels must be 0 to 9, found {int(y.max())}")
        arrays[split + "_images"] = X.reshape(len(X), 28 * 28)
    return ((arrays["train_images"], arrays["train_labels"]),
            (arrays["test_images"], arrays["test_labels"]))


# ---------------------------------------------------------------- toy data sets
#
# TensorFlow Playground's generators (src/dataset.ts of tensorflow/playground),
# vectorised over NumPy with a seeded Generator instead of Math.random.  Each
# takes ``n`` (the number of points), ``noise`` (the Playground's "Noise"
# slider over 100: 0 to 0.5) and ``seed``, and returns ``(X, y)``: ``X`` of
# shape (n, 2) in float64, points in [-6, 6]^2 (the Playground's domain),
# ``y`` of shape (n,): labels -1.0 / +1.0 for the classification sets, values
# in [-1, 1] for the regression sets (the plane's reach a little beyond with noise).  The points come in generation order
# (for the two-class sets the +1 class first); ``split`` shuffles and splits.
# The Playground draws 500 points for classification, 1,200 for regression.
# Where the Playground's loops run ``numSamples / 2`` times per class, here
# the +1 class gets ``n // 2`` points and the -1 class the other ``n - n // 2``.

#: The default number of points, as in TensorFlow Playground.
TOY_SAMPLES = {"classification": 500, "regression": 1200}


def _toy_args(n, noise, seed):
    from . import _checks  # the package's argument checks (imports the C core)
    # (at most what numpy can address: 2 float64 coordinates a point)
    n = _checks.integer(n, "n (number of points)", 1, np.iinfo(np.intp).max // 16)
    noise = _checks.real(noise, "noise", 0.0, 0.5)
    seed = _checks.check_seed(seed)
    rng = seed if isinstance(seed, (np.random.Generator, np.random.RandomState)) else np.random.default_rng(seed)
    return n, noise, rng


def _uniform(rng, a, b, size):
    """Uniform in [a, b) (the Playground's randUniform)."""
    return rng.random(size) * (b - a) + a


def circle(n: int = 500, noise: float = 0.0, seed: Any = None) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TensorFlow Playground's "Circle": ``n // 2`` points at radius r ~ U(0, 2.5)
    and the rest at r ~ U(3.5, 5), angles U(0, 2 pi), x = r sin(angle),
    y = r cos(angle).  The label is +1 when the point moved by a noise vector
    (each coordinate U(-5, 5) * noise) lies within radius 2.5 of the origin,
    else -1 (so with noise some points carry the other class's label)."""
    n, noise, rng = _toy_args(n, noise, seed)
    n_in = n // 2
    r = np.concatenate([_uniform(rng, 0.0, 2.5, n_in), _uniform(rng, 3.5, 5.0, n - n_in)])
    angle = _uniform(rng, 0.0, 2 * np.pi, n)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    moved = X + _uniform(rng, -5.0, 5.0, (n, 2)) * noise
    y = np.where(np.hypot(moved[:, 0], moved[:, 1]) < 2.5, 1.0, -1.0)
    return X, y


def xor(n: int = 500, noise: float = 0.0, seed: Any = None) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TensorFlow Playground's "Exclusive or": x, y ~ U(-5, 5), each pushed 0.3
    away from 0 (x + 0.3 if x > 0 else x - 0.3); the label is +1 when
    (x + nx) (y + ny) >= 0 with noise nx, ny ~ U(-5, 5) * noise, else -1."""
    n, noise, rng = _toy_args(n, noise, seed)
    X = _uniform(rng, -5.0, 5.0, (n, 2))
    X += np.where(X > 0, 0.3, -0.3)
    moved = X + _uniform(rng, -5.0, 5.0, (n, 2)) * noise
    y = np.where(moved[:, 0] * moved[:, 1] >= 0, 1.0, -1.0)
    return X, y


def gaussians(n: int = 500, noise: float = 0.0, seed: Any = None) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TensorFlow Playground's "Gaussian": ``n // 2`` points labelled +1 around
    (2, 2) and the rest labelled -1 around (-2, -2), each coordinate normal
    with variance 0.5 + 7 * noise (the Playground's scale from noise in
    [0, 0.5] to variance in [0.5, 4])."""
    n, noise, rng = _toy_args(n, noise, seed)
    n_pos = n // 2
    std = np.sqrt(0.5 + noise * (4.0 - 0.5) / 0.5)
    centres = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [n_pos, n - n_pos], axis=0)
    X = centres + std * rng.standard_normal((n, 2))
    y = np.repeat([1.0, -1.0], [n_pos, n - n_pos])
    return X, y


def spiral(n: int = 500, noise: float = 0.0, seed: Any = None) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TensorFlow Playground's "Spiral": two arms of m points each (m = n // 2
    for +1, n - n // 2 for -1), point i at radius r = 5 i / m and angle
    t = 1.75 * 2 pi i / m (+ pi for the -1 arm), x = r sin(t) + U(-1, 1) * noise,
    y = r cos(t) + U(-1, 1) * noise."""
    n, noise, rng = _toy_args(n, noise, seed)
    arms = []
    for m, shift in ((n // 2, 0.0), (n - n // 2, np.pi)):
        i = np.arange(m, dtype=np.float64)
        r = i / max(m, 1) * 5.0
        t = 1.75 * i / max(m, 1) * 2 * np.pi + shift
        arms.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    X = np.concatenate(arms) + _uniform(rng, -1.0, 1.0, (n, 2)) * noise
    y = np.repeat([1.0, -1.0], [n // 2, n - n // 2])
    return X, y


def plane(n: int = 1200, noise: float = 0.0, seed: Any = None) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TensorFlow Playground's regression "Plane": x, y ~ U(-6, 6), the value
    (x + nx + y + ny) / 10 with noise nx, ny ~ U(-6, 6) * noise (the
    Playground's linear scale from [-10, 10] to [-1, 1], not clamped)."""
    n, noise, rng = _toy_args(n, noise, seed)
    X = _uniform(rng, -6.0, 6.0, (n, 2))
    moved = X + _uniform(rng, -6.0, 6.0, (n, 2)) * noise
    return X, (moved[:, 0] + moved[:, 1]) / 10.0


#: The multi-gaussian regression set's six bumps: centre x, centre y, sign.
MULTI_GAUSSIAN_BUMPS = ((-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0),
                        (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0), (4.0, -2.5, -1.0))


def multi_gaussian(n: int = 1200, noise: float = 0.0, seed: Any = None
                   ) -> Tuple[NDArray[np.float64], NDArray[np.float64]]:
    """TensorFlow Playground's regression "Multi gaussian": x, y ~ U(-6, 6); at
    the point moved by noise (each coordinate U(-6, 6) * noise), each bump
    (cx, cy, s) of `MULTI_GAUSSIAN_BUMPS` gives s * clip(1 - d / 2, 0, 1) with
    d the distance to (cx, cy); the value is the first of largest magnitude."""
    n, noise, rng = _toy_args(n, noise, seed)
    X = _uniform(rng, -6.0, 6.0, (n, 2))
    moved = X + _uniform(rng, -6.0, 6.0, (n, 2)) * noise
    bumps = np.array(MULTI_GAUSSIAN_BUMPS)
    d = np.hypot(moved[:, :1] - bumps[:, 0], moved[:, 1:] - bumps[:, 1])   # (n, 6)
    values = bumps[:, 2] * np.clip(1.0 - d / 2.0, 0.0, 1.0)
    return X, values[np.arange(n), np.argmax(np.abs(values), axis=1)]


#: The toy sets by name, as the Playground groups them.
TOY_CLASSIFICATION = {"circle": circle, "xor": xor, "gaussians": gaussians, "spiral": spiral}
TOY_REGRESSION = {"plane": plane, "multi_gaussian": multi_gaussian}


def split(X: ArrayLike, y: ArrayLike, train_ratio: float = 0.5, seed: Any = None
          ) -> Tuple[Tuple[NDArray[Any], NDArray[Any]], Tuple[NDArray[Any], NDArray[Any]]]:
    """``(X_train, y_train), (X_test, y_test)``: the rows shuffled by a
    permutation drawn from ``seed``, then the first ``floor(n * train_ratio)``
    for training and the rest for testing (as the Playground does with its
    "Ratio of training to test data"); ``train_ratio`` in (0, 1)."""
    from . import _checks
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 1 or y.ndim < 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got shapes {X.shape} and {y.shape}")
    train_ratio = _checks.real(train_ratio, "train_ratio", 0.0, 1.0, low_open=True, high_open=True)
    seed = _checks.check_seed(seed)
    rng = seed if isinstance(seed, (np.random.Generator, np.random.RandomState)) else np.random.default_rng(seed)
    order = rng.permutation(X.shape[0])
    k = int(np.floor(X.shape[0] * train_ratio))
    train, test = order[:k], order[k:]
    return (X[train], y[train]), (X[test], y[test])
