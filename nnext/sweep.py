"""`sweep`: one architecture trained over several learning rates and seeds, in parallel."""

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .network import Network

__all__ = ["sweep"]


def sweep(sizes, X, y, lrs, seeds=(0,), epochs=1000, target=None, n_jobs=None, as_frame=None,
          activation="sigmoid", bias=True, dtype="float64", init="uniform", **fit_kwargs):
    """Train ``Network(sizes, ...)`` once per (learning rate, seed) pair, in parallel.

    The runs use threads: nnext's C loops release the GIL, so they run on all
    cores.  Each run equals ``Network(sizes, activation, bias, dtype, init,
    seed).fit(X, y, epochs=epochs, lr=lr, **fit_kwargs)``.

    Parameters
    ----------
    lrs, seeds : sequences
        The grid: every learning rate with every seed.
    target : float or None
        A loss to reach: the table says after how many epochs each run first
        got there (its History.loss at or below it), NaN if never.
    n_jobs : int or None
        Threads to use (None: the number of CPUs).
    as_frame : bool or None
        Return a pandas DataFrame (None: when pandas is installed) or a dict of arrays.
    fit_kwargs
        Passed to `Network.fit` (``loss``, ``batch_size``, ``optimizer``, ...).

    Returns
    -------
    dict of arrays or pandas.DataFrame
        Columns ``lr``, ``seed``, ``final_loss`` (the last epoch's loss; NaN if
        the run diverged), ``epochs_to_target``, ``diverged`` and ``epochs``
        (completed).
    """
    lrs, seeds = list(lrs), list(seeds)
    if not lrs or not seeds:
        raise ValueError("sweep needs at least one learning rate and one seed")
    for bad in ("lr", "seed", "epochs"):
        if bad in fit_kwargs:
            raise TypeError(f"sweep sets {bad!r} itself; pass lrs/seeds/epochs instead")
    if n_jobs is None:
        n_jobs = os.cpu_count() or 1
    grid = [(lr, seed) for lr in lrs for seed in seeds]
    # one network built up front so that bad arguments fail here, not in a thread
    Network(sizes, activation=activation, bias=bias, dtype=dtype, init=init, seed=seeds[0])

    def run(point):
        lr, seed = point
        net = Network(sizes, activation=activation, bias=bias, dtype=dtype, init=init, seed=seed)
        try:
            history, diverged = net.fit(X, y, epochs=epochs, lr=lr, **fit_kwargs), False
        except FloatingPointError as e:
            history, diverged = e.history, True
        losses = np.asarray(history.loss)
        reached = np.flatnonzero(losses <= target) if target is not None else np.array([], int)
        return {"lr": lr, "seed": seed,
                "final_loss": math.nan if diverged or not len(losses) else float(losses[-1]),
                "epochs_to_target": float(reached[0]) if reached.size else math.nan,
                "diverged": diverged, "epochs": len(losses)}

    with ThreadPoolExecutor(max_workers=max(1, min(n_jobs, len(grid)))) as pool:
        rows = list(pool.map(run, grid))
    table = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    if as_frame is None or as_frame:
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise ImportError("as_frame=True needs pandas: pip install pandas") from None
            return table
        return pd.DataFrame(table)
    return table
