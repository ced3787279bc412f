"""A typed user script that calls nnext's public API: `mypy --strict` on it
must pass (run by .ci/packaging.sh against the installed wheel).  It is also
run, so that every line is a call that works."""
import os
import tempfile
from typing import List, Optional, Union

import numpy as np
from numpy.typing import NDArray

import nnext
from nnext import GradientCheck, History, Network

X: NDArray[np.float64] = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
y: NDArray[np.float64] = np.array([[0], [1], [1], [0]], dtype=np.float64)

net = Network([3, 4, 1], activation="sigmoid", bias=False, dtype="float64", init="uniform", seed=1)
history: History = net.fit(X, y, epochs=100, lr=1.0, loss="sse", batch_size=None, shuffle=False,
                           optimizer="sgd", momentum=0.0, verbose=0, progress=False)
losses: List[float] = history.loss
out: NDArray[np.float64] = net.predict(X)
layers = net.forward(X)
value: float = net.loss(X, y, loss="sse")
dW, db = net.gradients(X, y, loss="sse")
check: GradientCheck = net.check_gradients(X, y, loss="sse")
ok: bool = check.ok
biases: Optional[List[NDArray[np.float64]]] = net.biases
sizes: List[int] = net.sizes
copy: Network = net.copy()
two = Network.from_weights(net.weights, None, activation=net.activations)
maxout = Network([3, 4, 1], activation=[("maxout", 3), ("leaky_relu", 0.1)], seed=0)
act_params: List[Union[None, float, int]] = maxout.activation_params
with tempfile.TemporaryDirectory() as folder:
    path: str = net.save(os.path.join(folder, "net.npz"))
    back: Network = Network.load(path)
net.summary(loss="sse", batch_size=4, lr=1.0)
single: object = Network([2, 1], seed=0).feedforward(np.array([2.0, 3.0]))
nnext.set_num_threads(None)
threads: int = nnext.get_num_threads()
table = nnext.sweep([3, 4, 1], X, y, lrs=[0.5, 1.0], seeds=[0], epochs=10, as_frame=False)
print(len(losses), out.shape, len(layers), value, len(dW), db, ok, biases, sizes, copy.n_params,
      two.dtype, back.sizes, single, threads, len(table), act_params)
