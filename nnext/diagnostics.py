"""Tools for looking inside a network: gradient checks and summaries.

`Network.check_gradients` and `Network.summary` are the entry points; this
module holds their machinery so that network.py stays about training.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _checks

__all__ = ["GradientCheck", "check_gradients", "summary_text", "LOSS_FORMULAS"]

#: Each loss's formula and dL/dp as a multiple of (p - y), for B rows and k outputs.
LOSS_FORMULAS = {
    "mse": ("mean over rows and outputs of (y - p)^2", "2 (p - y) / (B k)", lambda B, k: 2.0 / (B * k)),
    "sse": ("1/2 sum over the batch of (y - p)^2", "(p - y)", lambda B, k: 1.0),
    "bce": ("-mean of y log p + (1 - y) log(1 - p)", "(p - y) / (B k) at the sigmoid's input",
            lambda B, k: 1.0 / (B * k)),
    "cross_entropy": ("-sum of y log p / B", "(p - y) / B at the softmax's input", lambda B, k: 1.0 / B),
    "poisson": ("mean of exp(p) - y p + y log y - y (p the log-rate)", "(exp(p) - y) / (B k)",
                lambda B, k: 1.0 / (B * k)),
}


class GradientCheck:
    """The result of `Network.check_gradients`.

    Attributes
    ----------
    layers : list of dict
        Per weight layer: ``{"layer", "weights", "biases"}``, the worst relative
        error of that layer's weight and bias gradients (``biases`` is None
        without biases).  A non-finite gradient entry counts as error ``inf``.
    max_error : float
        The worst relative error over all checked parameters.
    tolerance : float
        The threshold that `ok` uses.
    n_checked : int
        How many parameters were checked (at least one).
    """

    def __init__(self, layers: List[Dict[str, Any]], tolerance: float, n_checked: int,
                 dtype: str) -> None:
        self.layers = layers
        self.tolerance = tolerance
        self.n_checked = n_checked
        self.dtype = dtype
        self.max_error = max(max(v for v in (r["weights"], r["biases"]) if v is not None) for r in layers)

    @property
    def ok(self) -> bool:
        """Whether every checked parameter agrees within `tolerance` (a NaN or
        infinite gradient never does)."""
        return bool(self.max_error <= self.tolerance)

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
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

    def __repr__(self) -> str:
        return f"GradientCheck(max_error={self.max_error:.3g}, ok={self.ok})"


def _gradient_arrays(net, gradients):
    """The (dW, db) to check, as float64 arrays shaped like the network's."""
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
    elif db is not None:
        raise ValueError("gradients db must be None for a network without biases")
    return dW, db


def check_gradients(net, X, y, loss, gradients=None, eps=1e-6, samples=None, seed=0, tolerance=None,
                    sample_weight=None):
    """See `Network.check_gradients`.

    Each checked parameter w is moved by h = eps * max(1, |w|) both ways, on a
    float64 copy of the network, and the central difference
    n = (L(w + h) - L(w - h)) / 2h compared with the analytic gradient a.  The
    difference itself is only known to within its error: the truncation error,
    estimated as |n(h) - n(h/2)|, plus the rounding error of the two losses,
    about 4 ulp(L) / h.  The error reported for the parameter is the part of
    |a - n| beyond ten times that allowance, relative to max(|a|, |n|); a
    non-finite a is an error of inf.
    """
    from .network import Network

    eps = _checks.real(eps, "eps", 0, 0.1, low_open=True)
    if samples is not None:
        samples = _checks.integer(samples, "samples (parameters checked per weight matrix or bias vector)", 1)
    if tolerance is None:
        tolerance = 1e-6 if net.dtype == np.float64 else 1e-2
    tolerance = _checks.real(tolerance, "tolerance", 0, low_open=True)
    rng = _rng(seed)
    if gradients is None:
        dW, db = net.gradients(X, y, loss=loss, sample_weight=sample_weight)
        gradients = (dW, db)
    dW, db = _gradient_arrays(net, gradients)
    ref = Network.from_weights([w.astype(np.float64) for w in net.weights],
                               None if not net.bias else [b.astype(np.float64) for b in net.biases],
                               activation=_checks.activation_specs(net.activations, net.activation_params),
                               dtype="float64")
    code, data = ref.prepare(X, y, loss, sample_weight=sample_weight)
    ref_weights, ref_biases = ref.weights, ref.biases
    groups = [(l, "weights", ref_weights[l], dW[l]) for l in range(len(dW))]
    if net.bias:
        groups += [(l, "biases", ref_biases[l], db[l]) for l in range(len(db))]
    worst = {(l, kind): 0.0 for l, kind, _, _ in groups}

    def slope(flat, i, h):
        keep = flat[i]
        flat[i] = keep + h
        up = ref.loss_of(code, data)
        flat[i] = keep - h
        down = ref.loss_of(code, data)
        flat[i] = keep
        return (up - down) / (2 * h), 4 * np.spacing(max(abs(up), abs(down))) / h

    n_checked = 0
    for l, kind, param, analytic in groups:
        flat, a_flat = param.reshape(-1), analytic.reshape(-1)
        idx = np.arange(flat.size)
        if samples is not None and flat.size > samples:
            idx = rng.choice(flat.size, size=samples, replace=False)
        errors = np.empty(idx.size)
        for j, i in enumerate(idx):
            h = eps * max(1.0, abs(float(flat[i])))
            numeric, rounding = slope(flat, i, h)
            half, rounding_half = slope(flat, i, h / 2)
            allowance = 10 * (abs(numeric - half) + rounding + rounding_half)
            a = float(a_flat[i])
            if not (np.isfinite(a) and np.isfinite(numeric)):
                errors[j] = np.inf
                continue
            excess = max(0.0, abs(a - numeric) - allowance)
            errors[j] = excess / max(abs(a), abs(numeric), np.finfo(np.float64).tiny)
        if idx.size:
            worst[(l, kind)] = float(np.max(errors))
        n_checked += idx.size
    layers = [{"layer": l, "weights": worst[(l, "weights")],
               "biases": worst[(l, "biases")] if net.bias else None} for l in range(len(dW))]
    return GradientCheck(layers, tolerance, n_checked, net.dtype.name)


def _rng(seed):
    """check_gradients' seed (which entries `samples` picks) as a generator: None, an
    int in [0, 2**32 - 1], or a numpy Generator or RandomState."""
    seed = _checks.check_seed(seed)
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    return np.random.default_rng(seed)


def summary_text(net, loss=None, batch_size=None, lr=None):
    """See `Network.summary`."""
    # every argument checked before anything is written
    if loss is not None:
        _checks.choice(loss, LOSS_FORMULAS, "loss")
    if batch_size is not None:
        batch_size = _checks.integer(batch_size, "batch_size (rows per step)", 1)
    if lr is not None:
        lr = _checks.real(lr, "lr", low=0)
    sizes = net.sizes
    acts = [a if p is None else f"{a}({p:g})" for a, p in zip(net.activations, net.activation_params)]
    width = max(10, *map(len, acts))
    lines = [f"Network {' -> '.join(map(str, sizes))}, {net.dtype.name}, "
             f"{'with' if net.bias else 'no'} biases",
             f"  {'layer':>5}  {'weights':>12}  {'biases':>8}  {'activation':>{width}}  {'output':>10}  {'parameters':>10}"]
    for l, w in enumerate(net.weights):
        n_in, cols, n_out = w.shape[0], w.shape[1], sizes[l + 1]
        count = n_in * cols + (cols if net.bias else 0)
        lines.append(f"  {l + 1:>5}  {str((n_in, cols)):>12}  {str((cols,)) if net.bias else '-':>8}  "
                     f"{acts[l]:>{width}}  {'(n, %d)' % n_out:>10}  {count:>10,}")
    lines.append(f"  total parameters: {net.n_params:,}")
    if loss is not None:
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
