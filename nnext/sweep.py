"""`sweep`: one architecture trained over several learning rates and seeds, in parallel."""

import math
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

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

    Every argument is checked before any run starts (X, y and ``fit_kwargs`` by a fit of
    no epochs).  Ctrl-C, or an error in one run, stops this sweep's runs in this
    process (the default threads, or an executor's threads) at their next poll, cancels
    those not started, and is raised here; fits running elsewhere in the process (a
    playground, another thread's fit) go on.  Runs in other processes are cancelled
    if they have not started (the executor's ``cancel``), and otherwise finish.

    Returns
    -------
    dict of arrays or pandas.DataFrame
        Columns ``lr``, ``seed``, ``final_loss`` (the last epoch's loss; NaN if
        the run diverged), ``epochs_to_target``, ``diverged`` and ``epochs``
        (completed).
    """
    # every argument checked here, before any run starts (a bad one would otherwise
    # surface in every run, or only after all of them trained)
    for name, values in (("lrs", lrs), ("seeds", seeds)):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"{name} must be a sequence, got {values!r}")
    lrs, seeds = list(lrs), list(seeds)
    if not lrs or not seeds:
        raise ValueError("sweep needs at least one learning rate and one seed")
    for bad in ("lr", "seed", "epochs"):
        if bad in fit_kwargs:
            raise TypeError(f"sweep sets {bad!r} itself; pass lrs/seeds/epochs instead")
    for i, lr in enumerate(lrs):
        _checks.real(lr, f"lrs[{i}] (a learning rate)", low=0)
    for i, seed in enumerate(seeds):
        try:
            _checks.check_seed(seed)
        except (TypeError, ValueError) as e:
            raise type(e)(f"seeds[{i}]: {e}") from None
    if target is not None:
        target = _checks.real(target, "target (a loss to reach)")
    if as_frame is not None:
        as_frame = _checks.boolean(as_frame, "as_frame")
    if executor is not None:
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(f"executor must have a submit(fn, *args) method (a concurrent.futures.Executor, "
                            f"a dask.distributed.Client), got {type(executor).__name__}")
        if n_jobs is not None:
            raise ValueError(f"n_jobs={n_jobs!r} sets the default thread pool's size; with executor= "
                             "the executor decides: pass one or the other")
    n_jobs = (os.cpu_count() or 1) if n_jobs is None else _checks.integer(n_jobs, "n_jobs", 1)
    epochs = _checks.integer(epochs, "epochs", 0)
    grid = [(lr, seed) for lr in lrs for seed in seeds]
    # one network built and given a fit of no epochs up front, so that bad arguments
    # (sizes, activation, X, y, fit's keywords) fail here, not in every run
    net = Network(sizes, activation=activation, bias=bias, dtype=dtype, init=init,
                  seed=_first_seed(seeds[0]))
    net.fit(X, y, epochs=0, lr=lrs[0], **{**fit_kwargs, "progress": False})
    setup = (epochs, target, activation, bias, dtype, init, fit_kwargs)

    # This sweep's runs watch this token (the ones in this process: the default
    # threads, or an executor's threads); Ctrl-C or a failed run sets it, which
    # stops them at their next poll and no other fit of the process.
    token = threading.Event()
    key = _register(token)
    futures = []
    try:
        if executor is not None:
            for lr, seed in grid:
                futures.append(executor.submit(train_one, sizes, X, y, lr, seed, *setup, key))
            rows = _results(futures)
        else:
            with ThreadPoolExecutor(max_workers=min(n_jobs, len(grid))) as pool:
                try:
                    for lr, seed in grid:
                        futures.append(pool.submit(train_one, sizes, X, y, lr, seed, *setup, key))
                    rows = _results(futures)
                except BaseException:
                    _cancel(token, futures)
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise  # (leaving the pool waits for the running runs: one poll each)
    except BaseException:
        _cancel(token, futures)
        raise
    finally:
        _unregister(key)
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


def _first_seed(seed):
    """A seed for the up-front check that draws nothing from a generator the runs use."""
    return 0 if isinstance(seed, (np.random.RandomState, np.random.Generator)) else seed


# The cancellation tokens of the sweeps running in this process, by key: a run
# gets its sweep's key (a plain string, which pickles as such); in another
# process the key finds nothing, and the run watches no token there.
_TOKENS: Dict[str, threading.Event] = {}
_TOKENS_LOCK = threading.Lock()


def _register(token):
    key = f"{os.getpid()}:{id(token)}"
    with _TOKENS_LOCK:
        _TOKENS[key] = token
    return key


def _unregister(key):
    with _TOKENS_LOCK:
        _TOKENS.pop(key, None)


def _results(futures):
    """The futures' results in order; the first error raised as soon as any run
    fails (not when its turn comes), so that the other runs are stopped then.
    (Futures of another kind, e.g. Dask's, are waited for in order.)"""
    if all(isinstance(f, Future) for f in futures):
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            if not f.cancelled() and f.exception() is not None:
                raise f.exception()
    return [f.result() for f in futures]


def _cancel(token, futures):
    """Stops a sweep's runs: those running in this process at their next poll,
    those not started yet at once (a future that cannot be cancelled runs, sees
    the token and returns at once)."""
    token.set()
    for f in futures:
        cancel = getattr(f, "cancel", None)
        if callable(cancel):
            try:
                cancel()
            except Exception:  # a remote executor's future that cannot be cancelled
                pass


def train_one(sizes, X, y, lr, seed, epochs, target, activation, bias, dtype, init, fit_kwargs,
              cancel=None):
    """One run of `sweep`: ``Network(sizes, activation, bias, dtype, init, seed).fit(X, y,
    epochs=epochs, lr=lr, **fit_kwargs)``; returns its row of the table as a dict.

    A top-level function of plain arguments, so that it pickles by reference and runs in
    another process or on another machine (``executor=`` of `sweep`).  ``cancel``: the
    key of the sweep's cancellation token; a run in the sweep's own process stops with
    KeyboardInterrupt once the sweep cancels it (elsewhere the key finds no token).
    """
    with _TOKENS_LOCK:
        token = _TOKENS.get(cancel) if cancel is not None else None
    if token is not None and token.is_set():
        raise KeyboardInterrupt("sweep cancelled")
    net = Network(sizes, activation=activation, bias=bias, dtype=dtype, init=init, seed=seed)
    before = _core._watch(token) if token is not None else None
    try:
        history, diverged = net.fit(X, y, epochs=epochs, lr=lr, **fit_kwargs), False
    except FloatingPointError as e:
        history, diverged = e.history, True
    finally:
        if token is not None:
            _core._watch(before)
    losses = np.asarray(history.loss)
    reached = np.flatnonzero(losses <= target) if target is not None else np.array([], int)
    return {"lr": lr, "seed": seed,
            "final_loss": math.nan if diverged or not len(losses) else float(losses[-1]),
            "epochs_to_target": float(reached[0]) if reached.size else math.nan,
            "diverged": diverged, "epochs": len(losses)}
