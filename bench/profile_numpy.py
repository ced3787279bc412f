"""Where numpy's training step goes: the twin of bench/profile_d.c for the
vectorised numpy epoch of bench/run.py (`numpy_epoch`), float32.  Each part of
one step (its three products per layer, the elementwise passes, the update) is
timed alone, best of 7 runs of many repetitions (wall time, numpy's BLAS
threads as the environment sets them), then the whole step.  Compare with
profile_d's 2-thread column, shape by shape.

    python bench/profile_numpy.py [batch [n0 n1 n2 n3]]    # default: 64 784 300 100 10
"""
import sys
import time

import numpy as np


def best_us(f, iters):
    best = 1e30
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(iters):
            f()
        best = min(best, (time.perf_counter() - t) / iters)
    return best * 1e6


def main(argv):
    if len(argv) not in (1, 2, 6):
        sys.exit(__doc__)
    B = int(argv[1]) if len(argv) > 1 else 64
    sizes = [int(v) for v in argv[2:6]] if len(argv) == 6 else [784, 300, 100, 10]
    rng = np.random.RandomState(0)
    L = len(sizes) - 1
    W = [(rng.rand(sizes[l], sizes[l + 1]).astype(np.float32) - 0.5) * 0.1 for l in range(L)]
    b = [np.zeros(sizes[l + 1], np.float32) for l in range(L)]
    x = rng.rand(B, sizes[0]).astype(np.float32)
    y = np.zeros((B, sizes[-1]), np.float32)
    y[np.arange(B), np.arange(B) % sizes[-1]] = 1
    flops = 2.0 * B * (3 * sum(sizes[l] * sizes[l + 1] for l in range(L)) - sizes[0] * sizes[1])
    iters = 3 if flops > 1e9 else 20 if flops > 1e8 else 200
    acts = [x]
    for l in range(L):
        acts.append(np.maximum(acts[-1] @ W[l], 0))
    d = [None] + [rng.rand(B, sizes[l + 1]).astype(np.float32) for l in range(L)]
    lr = np.float32(1e-9)
    total = 0.0
    print(f"numpy {np.__version__}, batch {B}, {'-'.join(map(str, sizes))} (wall time)")

    def part(label, f, fl=0.0):
        nonlocal total
        t = best_us(f, iters)
        total += t
        print(f"  {label:<34} {t:9.2f} us" + (f"  {fl / t * 1e-3:6.1f} GFLOP/s" if fl else ""))

    for l in range(L):
        ni, no = sizes[l], sizes[l + 1]
        a = acts[l]
        z = a @ W[l]
        part(f"fwd a @ W  L{l} ({B},{no},{ni})", lambda: a @ W[l], 2.0 * B * ni * no)
        if l < L - 1:
            part(f"bias + relu L{l}", lambda: (np.add(z, b[l], out=z), np.maximum(z, 0, out=z)))
        else:
            def softmax():
                np.add(z, b[l], out=z)
                z[...] -= z.max(axis=1, keepdims=True)
                np.exp(z, out=z)
                z[...] /= z.sum(axis=1, keepdims=True)
            part(f"bias + softmax L{l}", softmax)
    p = acts[-1]
    part("loss bwd (p - y) / B", lambda: (p - y) * np.float32(1.0 / B))
    for l in range(L - 1, -1, -1):
        ni, no = sizes[l], sizes[l + 1]
        a, dl = acts[l], d[l + 1]
        gW = a.T @ dl
        part(f"grad a.T @ d L{l} ({ni},{no},{B})", lambda: a.T @ dl, 2.0 * B * ni * no)
        part(f"bias sums L{l}", lambda: dl.sum(axis=0))
        if l > 0:
            part(f"delta d @ W.T L{l} ({B},{ni},{no})", lambda: dl @ W[l].T, 2.0 * B * ni * no)
            dn = dl @ W[l].T
            part(f"relu bwd L{l}", lambda: dn.__imul__(acts[l] > 0))
        part(f"update W -= lr gW L{l}", lambda: (gW.__imul__(lr), W[l].__isub__(gW)))
    print(f"  sum of parts {total:.2f} us")

    X = rng.rand(B * 20, sizes[0]).astype(np.float32)
    Y = np.zeros((B * 20, sizes[-1]), np.float32)
    Y[np.arange(B * 20), np.arange(B * 20) % sizes[-1]] = 1
    sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
    from run import numpy_epoch
    step = best_us(lambda: numpy_epoch(W, b, X, Y, B, 1e-9), 1) / 20
    print(f"  numpy_epoch step                   {step:9.2f} us  {flops / step * 1e-3:6.1f} GFLOP/s")


if __name__ == "__main__":
    main(sys.argv)
