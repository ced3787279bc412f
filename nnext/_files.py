"""Saving and loading networks: a ``.npz`` file of plain arrays, no pickles.

`load` reads the archive's directory and each member's ``.npy`` header
first, and refuses unknown members, wrong dtypes and shapes that do not match
the declared architecture before it reads any data, so its memory is bounded
by the architecture the file declares (not by what a member claims to hold);
and a member must be large enough in the archive for its shape (stored, or
deflated at most _MAX_DEFLATE_RATIO to 1), so that its memory is also bounded
by a multiple of the file's own size: a small file cannot declare a huge
architecture and have it allocated.
"""

import os
import stat
import tempfile
import zipfile

import numpy as np

from . import _checks

FILE_FORMAT = "nnext-network"
# Version 1: no activation parameters (every layer at its default).  Version 2
# adds "activation_params" (float64, one per layer, NaN for an activation
# without one).  `save` writes version 1 when every parameter is its default
# (such files are those of earlier nnext, which can read them), 2 otherwise;
# `load` reads both.
FILE_VERSION = 2
FILE_VERSIONS = (1, 2)
# the metadata members: name -> (allowed dtype kinds, shape or None for 1-D)
_META = {"format": ("U", ()), "version": ("iu", ()), "sizes": ("iu", None),
         "activations": ("U", None), "bias": ("b", ()), "dtype": ("U", ()),
         "activation_params": ("f", None)}
_MAX_META_BYTES = 1 << 16  # metadata members are tiny: sizes, names
# deflate's best ratio is about 1032 to 1 (RFC 1951: 258 bytes per 2-bit code)
_MAX_DEFLATE_RATIO = 1032


def save(net, path):
    """See `Network.save`."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    # through a symbolic link: replace the file it points to, not the link
    target = os.path.realpath(path)
    defaults = all(p == _checks.activation_default(a)
                   for a, p in zip(net.activations, net.activation_params))
    arrays = {"format": np.array(FILE_FORMAT), "version": np.array(1 if defaults else 2),
              "sizes": np.array(net.sizes, dtype=np.int64),
              "activations": np.array(net.activations), "bias": np.array(net.bias),
              "dtype": np.array(net.dtype.name)}
    if not defaults:
        arrays["activation_params"] = np.array(
            [np.nan if p is None else float(p) for p in net.activation_params], dtype=np.float64)
    biases = net.biases
    for l, w in enumerate(net.weights):
        arrays[f"W{l}"] = w.copy()
        if biases is not None:
            arrays[f"b{l}"] = biases[l].copy()
    atomic_write(target, lambda f: np.savez(f, **arrays), suffix=".npz.tmp")
    return path


def atomic_write(target, write, suffix=".tmp"):
    """Writes the file `target` through ``write(f)`` on a temporary file in the
    same folder, fsynced and renamed over `target`, so that `target` never
    holds a half-written file (a killed process may leave a ``.nnext-*`` file
    behind).  The file gets the permissions of the file it replaces, or those
    a plain open() would give."""
    fd, tmp = tempfile.mkstemp(prefix=".nnext-", suffix=suffix, dir=os.path.dirname(target))
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600
            os.fchmod(fd, _new_file_mode(target))
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _new_file_mode(path):
    """Permission bits for a saved file: those of the file it replaces, else
    what a plain open() would give (0o666 minus the umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    try:
        with open("/proc/self/status") as f:  # the umask, without os.umask's race
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def load(cls, path):
    """See `Network.load`: (sizes, activations, bias, dtype, weights, biases) checked."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ValueError(f"{path!r} is not a readable nnext network file: {e}") from e
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path!r} is not a regular file (a directory, FIFO or device cannot "
                         f"hold an nnext network)")
    try:
        with open(path, "rb") as f, zipfile.ZipFile(f) as z:
            return _read(cls, z, path, os.fstat(f.fileno()).st_size)
    except (TypeError, ValueError) as e:
        if type(e) is ValueError and repr(path) in str(e):
            raise
        raise ValueError(f"{path!r} is not a valid nnext network file: {e}") from e
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError,
            NotImplementedError) as e:
        raise ValueError(f"{path!r} is not a readable nnext network file: {e}") from e


def _header(z, info):
    """(shape, fortran_order, dtype) of a member's .npy header, reading no data."""
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version in ((2, 0), (3, 0)):
            return np.lib.format.read_array_header_2_0(f)
        raise ValueError(f"member {info.filename!r} has .npy version {version}")


def _array(z, info, shape, dtype):
    """A member's data, which must be exactly shape x dtype (checked from the
    header before any data is read)."""
    with z.open(info) as f:
        arr = np.lib.format.read_array(f, allow_pickle=False)
    if arr.shape != shape or arr.dtype != dtype:
        raise ValueError(f"member {info.filename!r} changed while it was read")
    return arr


def _read(cls, z, path, archive_bytes):
    infos = {}
    for info in z.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"{path!r} holds {info.filename!r}, which is not an array")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{path!r}: {info.filename!r} uses compression method "
                             f"{info.compress_type} (numpy writes stored or deflated members)")
        if info.header_offset + info.compress_size > archive_bytes or \
                (info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size) or \
                info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 4096:
            raise ValueError(f"{path!r}: {info.filename!r} claims {info.file_size} bytes from "
                             f"{info.compress_size} in a {archive_bytes}-byte file (truncated or corrupted)")
        name = info.filename[:-4]
        if name in infos:
            raise ValueError(f"{path!r} holds {name!r} twice")
        infos[name] = info

    def meta(name):
        if name not in infos:
            raise ValueError(f"{path!r} is not an nnext network file: it has no {name!r} entry")
        info = infos[name]
        if info.file_size > _MAX_META_BYTES:
            raise ValueError(f"{path!r}: {name!r} is {info.file_size} bytes, too large for metadata")
        shape, _, dtype = _header(z, info)
        kinds, want = _META[name]
        if dtype.kind not in kinds or dtype.hasobject or (want is not None and shape != want) or \
                (want is None and len(shape) != 1):
            raise ValueError(f"{path!r} has a malformed {name!r} entry (dtype {dtype}, shape {shape})")
        return _array(z, info, shape, dtype)

    if str(meta("format")) != FILE_FORMAT:
        raise ValueError(f"{path!r} is not an nnext network file (format {str(meta('format'))!r})")
    version = int(meta("version"))
    if version not in FILE_VERSIONS:
        raise ValueError(f"{path!r} has file version {version}; this nnext reads versions "
                         f"{', '.join(map(str, FILE_VERSIONS))}")
    sizes = _checks.check_sizes([int(s) for s in meta("sizes")])
    n_layers = len(sizes) - 1
    act_params = None
    if version >= 2:
        # float64 in the file; maxout's k back to an int when whole (else refused)
        act_params = [None if np.isnan(p) else int(p) if float(p).is_integer() and abs(p) < 2**53
                      else float(p) for p in meta("activation_params")]
    names, act_params = _checks.check_activations([str(a) for a in meta("activations")], n_layers,
                                                  act_params)
    bias = bool(meta("bias"))
    dtype = _checks.check_dtype(str(meta("dtype")))
    expected = (set(_META) - ({"activation_params"} if version < 2 else set())) | \
        {f"W{l}" for l in range(n_layers)}
    if bias:
        expected |= {f"b{l}" for l in range(n_layers)}
    unknown = sorted(set(infos) - expected)
    if unknown:
        raise ValueError(f"{path!r} holds entries this network does not have: {unknown} "
                         f"(bias={bias}, {n_layers} layers)")
    missing = sorted(expected - set(infos))
    if missing:
        raise ValueError(f"{path!r} is not an nnext network file: it has no {missing[0]!r} entry")
    # every parameter member's header first: names, dtypes and shapes as declared
    plan = []
    for l in range(n_layers):
        cols = _checks.layer_cols(names[l], act_params[l], sizes[l + 1])
        for name, shape in ((f"W{l}", (sizes[l], cols)), (f"b{l}", (cols,))):
            if name not in expected:
                continue
            got_shape, _, got_dtype = _header(z, infos[name])
            if got_dtype.kind not in "iuf" or got_dtype.hasobject:
                raise ValueError(f"{path!r}: {name} has dtype {got_dtype}, expected real numbers")
            if got_shape != shape:
                raise ValueError(f"{path!r}: {name} has shape {got_shape}, expected {shape}")
            need = got_dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if infos[name].file_size > 4096 + need:
                raise ValueError(f"{path!r}: {name} is {infos[name].file_size} bytes, more than "
                                 f"its shape {shape} needs")
            if infos[name].file_size < need:  # checked before numpy allocates the shape
                raise ValueError(f"{path!r}: {name} is {infos[name].file_size} bytes, less than "
                                 f"its shape {shape} needs ({need}): truncated")
            plan.append((name, shape, got_dtype))
    arrays = {name: _array(z, infos[name], shape, dt) for name, shape, dt in plan}
    weights = [arrays[f"W{l}"] for l in range(n_layers)]
    biases = [arrays[f"b{l}"] for l in range(n_layers)] if bias else None
    return cls.from_weights(weights, biases, activation=_checks.activation_specs(names, act_params),
                            dtype=dtype)
