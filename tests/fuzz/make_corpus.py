"""Writes the committed seed corpus, tests/fuzz/corpus/<target>/ (small, reproducible).

    python tests/fuzz/make_corpus.py [OUT_DIR]     (default: tests/fuzz/corpus)

load: every kind of saved network (float32/float64, with and without biases,
each activation of nnext.ACTIVATIONS at the output and among the hidden
layers, depths 1 to 4), each file prefixed by the byte that routes it to
Network.load; a few pickle-path seeds.  api: byte strings that decode to
varied shapes and calls.  core: one seed per mode of fuzz_core.c.

Needs only numpy and nnext (any build).
"""
import hashlib
import os
import sys
import tempfile

import numpy as np

import nnext

HERE = os.path.dirname(os.path.abspath(__file__))


def write(out, target, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def saved(net):
    with tempfile.TemporaryDirectory() as tmp:
        path = net.save(os.path.join(tmp, "net.npz"))
        with open(path, "rb") as f:
            return f.read()


def load_seeds():
    acts = [a for a in nnext.ACTIVATIONS if a != "maxout"]  # (maxout: hidden layers only)
    hidden = [a for a in nnext.ACTIVATIONS if a != "softmax"]
    rng = np.random.RandomState(0)
    seeds = []
    for dtype in ("float64", "float32"):
        for bias in (True, False):
            for i, out_act in enumerate(acts):  # every activation at the output
                depth = 1 + i % 4
                sizes = [int(s) for s in rng.randint(1, 6, size=depth + 1)]
                names = [hidden[(i + l) % len(hidden)] for l in range(depth - 1)] + [out_act]
                net = nnext.Network(sizes, activation=names, bias=bias, dtype=dtype, seed=i)
                seeds.append(b"\x00" + saved(net))
    # every hidden activation inside a deeper network, once
    net = nnext.Network([3] + [4] * len(hidden) + [2], activation=hidden + ["softmax"], seed=1)
    seeds.append(b"\x00" + saved(net))
    # activations with parameters (format version 2): a slope, an alpha, maxout's pieces
    for dtype in ("float64", "float32"):
        net = nnext.Network([3, 5, 4, 2], activation=[("leaky_relu", 0.2), ("maxout", 3), ("elu", 0.5)],
                            dtype=dtype, seed=2)
        seeds.append(b"\x00" + saved(net))
    # the pickle path: byte strings decoded by FuzzedDataProvider
    for i in range(8):
        seeds.append(bytes([1]) + rng.randint(0, 256, size=64, dtype=np.uint8).tobytes())
    return seeds


def api_seeds():
    rng = np.random.RandomState(1)
    return [rng.randint(0, 256, size=n, dtype=np.uint8).tobytes() for n in (16, 48, 96, 160, 256, 400)
            for _ in range(4)]


def core_seeds():
    rng = np.random.RandomState(2)
    seeds = []
    for mode in range(6):
        for n in (8, 32, 64):
            seeds.append(bytes([mode]) + rng.randint(0, 256, size=n, dtype=np.uint8).tobytes())
    return seeds


def main(out):
    for target, seeds in (("load", load_seeds()), ("api", api_seeds()), ("core", core_seeds())):
        for data in seeds:
            write(out, target, data)
        print(f"{target}: {len(seeds)} seeds in {os.path.join(out, target)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus"))
