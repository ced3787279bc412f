"""`History`: what a call to `Network.fit` recorded."""

from typing import Any, Dict, List, Optional

import numpy as np
from numpy.typing import NDArray

__all__ = ["History"]


class History:
    """The record of one `Network.fit`.

    Attributes
    ----------
    loss : list of float
        One value per completed epoch: the mean of that epoch's batch losses,
        each computed by the forward pass before that batch's update.
    val_loss : list of float
        With ``validation_data``: the loss on the validation set after each epoch.
    best_epoch : int or None
        With ``early_stopping``: the epoch whose weights the network ends with.
    stopped_epoch : int or None
        The epoch after which early stopping ended the fit (None if it ran out).
    trace : dict of str -> ndarray
        With ``trace_every``: Trask's variables at the recorded epochs, stacked
        on a first axis of length ``len(trace_epochs)``: ``l0`` ... ``lL`` (every
        layer's output), ``l1_error`` ... ``lL_error`` (minus the loss's gradient
        with respect to that layer's output: ``y - lL`` for ``"sse"``),
        ``l1_delta`` ... ``lL_delta`` (the same with respect to the layer's
        input, i.e. the error times the activation's slope; for a maxout
        layer of k pieces ``(n, units*k)``, the error at each unit's chosen
        piece and zero at the others), ``syn0`` ...
        (the weights at that moment) and ``b0`` ... (biases, when present).
    trace_epochs : ndarray of int
        The epochs at which `trace` was recorded (before that epoch's update).
    network : Network or None
        The network that was trained.  Attributes a History does not have are
        looked up on it, so that a fit chains as in scikit-learn:
        ``net.fit(X, y).predict(X)``, ``net.fit(X, y).fit(X, y, epochs=5)``.
    """

    def __init__(self, network: Any = None) -> None:
        self.network = network
        self._loss = []
        self._pending = []  # arrays of epoch losses not yet turned into floats
        self.val_loss = []
        self.best_epoch = None
        self.stopped_epoch = None
        self._trace_epochs = []
        self._trace_rows = []  # one dict of arrays per recorded epoch
        self._trace_cache = None

    def __getattr__(self, name: str) -> Any:
        # only for names a History lacks; never for private names (pickling
        # and copying probe those before __init__ has run)
        network = self.__dict__.get("network")
        if name.startswith("_") or network is None:
            raise AttributeError(f"'History' object has no attribute {name!r}")
        return getattr(network, name)

    def _extend(self, losses, copy=True):
        # kept as an array (a copy unless the caller hands over its own), made
        # into floats only when read: for a tiny network a Python float per
        # epoch costs about as much as the epoch itself
        if len(losses):
            self._pending.append(np.array(losses, dtype=np.float64) if copy else losses)

    def _count(self):
        """Completed epochs, without making the pending losses into floats."""
        return len(self._loss) + sum(len(chunk) for chunk in self._pending)

    @property
    def loss(self) -> List[float]:
        if self._pending:
            for chunk in self._pending:
                self._loss.extend(chunk.tolist())
            self._pending = []
        return self._loss

    @loss.setter
    def loss(self, values: List[float]) -> None:
        self._loss = list(values)
        self._pending = []

    def _record(self, epoch, values):
        self._trace_epochs.append(int(epoch))
        self._trace_rows.append(values)
        self._trace_cache = None

    @property
    def trace(self) -> Dict[str, NDArray[Any]]:
        if self._trace_cache is None:
            if not self._trace_rows:
                self._trace_cache = {}
            else:
                names = self._trace_rows[0].keys()
                self._trace_cache = {k: np.stack([row[k] for row in self._trace_rows]) for k in names}
        return self._trace_cache

    @property
    def trace_epochs(self) -> NDArray[Any]:
        return np.asarray(self._trace_epochs, dtype=np.int64)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.loss)

    def __len__(self) -> int:
        return len(self.loss)

    def to_dict(self) -> Dict[str, Any]:
        """The record as a dict of arrays: ``loss``, ``val_loss`` (when
        recorded), ``trace_epochs`` and one entry per traced variable
        (``trace/l1``, ``trace/syn0``, ...)."""
        out = {"epoch": np.arange(len(self.loss)), "loss": np.asarray(self.loss, dtype=np.float64)}
        if self.val_loss:
            out["val_loss"] = np.asarray(self.val_loss, dtype=np.float64)
        if self._trace_rows:
            out["trace_epochs"] = self.trace_epochs
            out.update({f"trace/{k}": v for k, v in self.trace.items()})
        return out

    def plot(self, ax: Any = None, logy: bool = True) -> Any:
        """Plot the loss (and validation loss) per epoch with matplotlib; returns the Axes."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib "
                              "(or pip install 'nnext[notebooks]')") from None
        if ax is None:
            ax = plt.figure(figsize=(6, 3.5)).gca()
        epochs = np.arange(len(self.loss))
        ax.plot(epochs, self.loss, label="training loss")
        if self.val_loss:
            ax.plot(np.arange(len(self.val_loss)), self.val_loss, label="validation loss")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, color="gray", linestyle=":", label=f"best epoch ({self.best_epoch})")
        if logy and self.loss and min(self.loss) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        return ax

    def __repr__(self) -> str:
        if not self.loss:
            return "History(epochs=0)"
        extra = f", val_loss: {self.val_loss[-1]:.6g}" if self.val_loss else ""
        if self._trace_rows:
            extra += f", trace at {len(self._trace_rows)} epochs"
        return f"History(epochs={len(self.loss)}, loss: {self.loss[0]:.6g} -> {self.loss[-1]:.6g}{extra})"
