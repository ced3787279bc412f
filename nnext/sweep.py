"""`sweep`: one architecture trained over several learning rates and seeds, in parallel."""

import math
import os
from concurrent.futures import ThreadPoolExecutor

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import _checks, _core
from .network import Activation, Network

__all__ = ["sweep", "train_one"]


def sweep(sizes: Sequence[int], X: ArrayLike, y: ArrayLike, lrs: Sequence[float],
          seeds: Sequence[Any] = (0,), epochs: int = 1000, target: Optional[float] = None,
          n_jobs: Optional[int] = None, as_frame: Optional[bool] = None,
          activation: Activation = "sigmoid", bias: bool = True,
          dtype: str = "float64", init: str = "uniform", executor: Any = None,
          **fit_kwargs: Any) -> Any:
    """Train ``Network(sizes, ...)`` once per (learning rate, seed) pair, in parallel.

    By default the runs use threads: nnext's C loops release the GIL, so they
    run on all cores.  Each run equals ``Network(sizes, activation, bias, dtype,
    init, seed).fit(X, y, epochs=epochs, lr=lr, **fit_kwargs)``.

    Parameters
    ----------
    lrs, seeds : sequences
        The grid: every learning rate with every seed.
    target : float or None
        A loss to reach: the table says after how many epochs each run first
        got there (its History.loss at or below it), NaN if never.
    n_jobs : int or None
        Threads to use (None: the number of CPUs); for the default thread pool only.
    executor : object with ``submit``, or None
        Run the grid on this instead of threads: a ``concurrent.futures.Executor``
        (e.g. ``ProcessPoolExecutor``) or a ``dask.distributed.Client``, anything
        whose ``submit(fn, *args)`` returns a future with ``result()``.  One task is
        submitted per run: the top-level function ``nnext.sweep.train_one`` with
        plain arguments (sizes, X, y, lr, seed, ...), which returns the run's row
        (a small dict).  The executor is not shut down.  Each row equals the
        in-process run's, bit for bit.
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
    if executor is not None:
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(f"executor must have a submit(fn, *args) method (a concurrent.futures.Executor, "
                            f"a dask.distributed.Client), got {type(executor).__name__}")
        if n_jobs is not None:
            raise ValueError(f"n_jobs={n_jobs!r} sets the default thread pool's size; with executor= "
                             "the executor decides: pass one or the other")
    n_jobs = (os.cpu_count() or 1) if n_jobs is None else _checks.integer(n_jobs, "n_jobs", 1)
    grid = [(lr, seed) for lr in lrs for seed in seeds]
    # one network built up front so that bad arguments fail here, not in a worker
    Network(sizes, activation=activation, bias=bias, dtype=dtype, init=init, seed=seeds[0])
    setup = (epochs, target, activation, bias, dtype, init, fit_kwargs)

    def submit_all(pool):
        futures = [pool.submit(train_one, sizes, X, y, lr, seed, *setup) for lr, seed in grid]
        return [f.result() for f in futures]

    if executor is not None:
        rows = submit_all(executor)
    else:
        with ThreadPoolExecutor(max_workers=min(n_jobs, len(grid))) as pool:
            try:
                rows = submit_all(pool)
            except KeyboardInterrupt:
                # Ctrl-C reaches this (the main) thread only: stop the runs in the
                # pool's threads too, so that leaving the pool does not wait for them
                pool.shutdown(wait=False, cancel_futures=True)
                _core._interrupt_all()
                raise
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


def train_one(sizes, X, y, lr, seed, epochs, target, activation, bias, dtype, init, fit_kwargs):
    """One run of `sweep`: ``Network(sizes, activation, bias, dtype, init, seed).fit(X, y,
    epochs=epochs, lr=lr, **fit_kwargs)``; returns its row of the table as a dict.

    A top-level function of plain arguments, so that it pickles by reference and runs in
    another process or on another machine (``executor=`` of `sweep`).
    """
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
