"""`History`: what a call to `Network.fit` recorded."""

import numpy as np

__all__ = ["History"]


class History:
    """The record of one `Network.fit`.

    Attributes
    ----------
    loss : list of float
        One value per completed epoch: the mean of that epoch's batch losses,
        each computed by the forward pass before that batch's update.
    """

    def __init__(self):
        self.loss = []

    def _extend(self, losses):
        self.loss.extend(losses.tolist())

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.loss)

    def __len__(self):
        return len(self.loss)

    def to_dict(self):
        """``{"loss": array}``: the record as arrays."""
        return {"loss": np.asarray(self.loss, dtype=np.float64)}

    def __repr__(self):
        if not self.loss:
            return "History(epochs=0)"
        return f"History(epochs={len(self.loss)}, loss: {self.loss[0]:.6g} -> {self.loss[-1]:.6g})"
