"""Tools for looking inside a network: gradient checks and summaries.

`Network.check_gradients` and `Network.summary` are the entry points; this
module holds their machinery so that network.py stays about training.
"""

import numpy as np

__all__ = ["GradientCheck", "check_gradients", "summary_text", "LOSS_FORMULAS"]

#: Each loss's formula and dL/dp as a multiple of (p - y), for B rows and k outputs.
LOSS_FORMULAS = {
    "mse": ("mean over rows and outputs of (y - p)^2", "2 (p - y) / (B k)", lambda B, k: 2.0 / (B * k)),
    "sse": ("1/2 sum over the batch of (y - p)^2", "(p - y)", lambda B, k: 1.0),
    "bce": ("-mean of y log p + (1 - y) log(1 - p)", "(p - y) / (B k) at the sigmoid's input",
            lambda B, k: 1.0 / (B * k)),
    "cross_entropy": ("-sum of y log p / B", "(p - y) / B at the softmax's input", lambda B, k: 1.0 / B),
}


class GradientCheck:
    """The result of `Network.check_gradients`.

    Attributes
    ----------
    layers : list of dict
        Per weight layer: ``{"layer", "weights", "biases"}``, the worst relative
        error of that layer's weight and bias gradients (``biases`` is None
        without biases).
    max_error : float
        The worst relative error over all checked parameters.
    tolerance : float
        The threshold that `ok` uses.
    """

    def __init__(self, layers, tolerance, n_checked, dtype):
        self.layers = layers
        self.tolerance = tolerance
        self.n_checked = n_checked
        self.dtype = dtype
        self.max_error = max(max(v for v in (r["weights"], r["biases"]) if v is not None) for r in layers)

    @property
    def ok(self):
        """Whether every checked parameter agrees within `tolerance`."""
        return bool(self.max_error <= self.tolerance)

    def __bool__(self):
        return self.ok

    def report(self):
        """A readable table of the worst relative error per layer."""
        lines = [f"Gradient check ({self.n_checked} parameters, analytic in {self.dtype} vs central "
                 f"differences in float64, tolerance {self.tolerance:.0e})",
                 f"  {'layer':>5}  {'weights':>10}  {'biases':>10}"]
        for r in self.layers:
            b = "-" if r["biases"] is None else f"{r['biases']:.2e}"
            lines.append(f"  {r['layer']:>5}  {r['weights']:>10.2e}  {b:>10}")
        lines.append(f"  worst {self.max_error:.2e}: {'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)

    __str__ = report

    def __repr__(self):
        return f"GradientCheck(max_error={self.max_error:.3g}, ok={self.ok})"


def _relative_errors(analytic, numeric, scale):
    """|a - n| / max(|a|, |n|, floor): the floor keeps near-zero entries from dominating."""
    floor = max(scale * 1e-7, np.finfo(np.float64).tiny)
    return np.abs(analytic - numeric) / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)


def check_gradients(net, X, y, loss, gradients=None, eps=1e-6, samples=None, seed=0, tolerance=None):
    """See `Network.check_gradients`."""
    from .network import Network

    if gradients is None:
        dW, db = net.gradients(X, y, loss=loss)
    else:
        try:
            dW, db = gradients
        except (TypeError, ValueError):
            raise TypeError("gradients must be a pair (dW, db) as returned by Network.gradients") from None
        dW = [np.asarray(g, dtype=np.float64) for g in dW]
        if len(dW) != len(net.weights) or any(g.shape != w.shape for g, w in zip(dW, net.weights)):
            raise ValueError(f"gradients dW must have the shapes {[w.shape for w in net.weights]}, "
                             f"got {[g.shape for g in dW]}")
        if net.bias:
            if db is None or len(db) != len(net.biases):
                raise ValueError("gradients db must hold one vector per layer for a network with biases")
            db = [np.asarray(g, dtype=np.float64) for g in db]
            if any(g.shape != b.shape for g, b in zip(db, net.biases)):
                raise ValueError(f"gradients db must have the shapes {[b.shape for b in net.biases]}, "
                                 f"got {[g.shape for g in db]}")
    # central differences on a float64 copy
    ref = Network.from_weights([w.astype(np.float64) for w in net.weights],
                               None if not net.bias else [b.astype(np.float64) for b in net.biases],
                               activation=net.activations, dtype="float64")
    code, Xa, Ya = ref._data(X, y, loss)
    rng = np.random.default_rng(seed)
    groups = [(l, "weights", ref._weights[l], dW[l]) for l in range(len(dW))]
    if net.bias:
        groups += [(l, "biases", ref._biases[l], db[l]) for l in range(len(db))]
    scale = max(float(np.max(np.abs(g))) for *_, g in groups)
    worst = {(l, kind): 0.0 for l, kind, _, _ in groups}
    n_checked = 0
    for l, kind, param, analytic in groups:
        flat, a_flat = param.reshape(-1), np.asarray(analytic, dtype=np.float64).reshape(-1)
        idx = np.arange(flat.size)
        if samples is not None and flat.size > samples:
            idx = rng.choice(flat.size, size=samples, replace=False)
        numeric = np.empty(idx.size)
        for j, i in enumerate(idx):
            keep = flat[i]
            flat[i] = keep + eps
            up = ref._engine.loss(Xa, Ya, code)
            flat[i] = keep - eps
            down = ref._engine.loss(Xa, Ya, code)
            flat[i] = keep
            numeric[j] = (up - down) / (2 * eps)
        if idx.size:
            worst[(l, kind)] = float(np.max(_relative_errors(a_flat[idx], numeric, scale)))
        n_checked += idx.size
    layers = [{"layer": l, "weights": worst[(l, "weights")],
               "biases": worst[(l, "biases")] if net.bias else None} for l in range(len(dW))]
    if tolerance is None:
        tolerance = 1e-6 if net.dtype == np.float64 else 1e-2
    return GradientCheck(layers, tolerance, n_checked, net.dtype.name)


def summary_text(net, loss=None, batch_size=None, lr=None):
    """See `Network.summary`."""
    sizes, acts = net.sizes, net.activations
    lines = [f"Network {' -> '.join(map(str, sizes))}, {net.dtype.name}, "
             f"{'with' if net.bias else 'no'} biases",
             f"  {'layer':>5}  {'weights':>12}  {'biases':>8}  {'activation':>10}  {'output':>10}  {'parameters':>10}"]
    for l in range(len(sizes) - 1):
        n_in, n_out = sizes[l], sizes[l + 1]
        count = n_in * n_out + (n_out if net.bias else 0)
        lines.append(f"  {l + 1:>5}  {str((n_in, n_out)):>12}  {str((n_out,)) if net.bias else '-':>8}  "
                     f"{acts[l]:>10}  {'(n, %d)' % n_out:>10}  {count:>10,}")
    lines.append(f"  total parameters: {net.n_params:,}")
    if loss is not None:
        if loss not in LOSS_FORMULAS:
            raise ValueError(f"unknown loss {loss!r}; expected one of {list(LOSS_FORMULAS)}")
        formula, grad, scale = LOSS_FORMULAS[loss]
        k = sizes[-1]
        lines.append(f"Loss {loss!r}: L = {formula}")
        lines.append(f"  dL/dp = {grad}")
        if batch_size is not None:
            s = scale(batch_size, k)
            lines.append(f"  with B = {batch_size} rows and k = {k} outputs, each row's (p - y) is scaled by {s:.4g}")
            if lr is not None:
                lines.append(f"  lr = {lr:g} moves the weights like lr = {lr * s:.4g} would with 'sse' "
                             f"(whose gradient is the unscaled sum)")
        else:
            lines.append("  (give batch_size to see the scale of each row's error, and lr to compare losses)")
    return "\n".join(lines)
