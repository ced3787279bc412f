"""A neural-network playground in Jupyter, after TensorFlow Playground.

The state is a plain Python object, `Playground`, usable and testable without
a browser or ipywidgets::

    >>> from nnext.playground import Playground
    >>> pg = Playground(dataset="spiral", layers=[8, 8, 4], features=["x1", "x2", "sin(x1)", "sin(x2)"], seed=0)
    >>> pg.step(epochs=100)                  # the C core trains 100 epochs
    >>> pg.epoch, pg.train_loss, pg.test_loss
    >>> pg.history["epoch"], pg.history["test_loss"]   # recorded after every epoch (see Playground)
    >>> pg.network                           # the nnext.Network being trained
    >>> print(pg.code())                     # nnext lines that rebuild it, bit for bit

``pg.view()`` (needs ipywidgets: ``pip install "nnext[playground]"``) returns
the widgets: every control of TensorFlow Playground, play/pause/step/reset,
the output's decision heatmap with the points, every neuron's heatmap and the
weights between them.  The widgets call the same methods (``set``, ``step``,
``play``, ``pause``, ``reset``, ``regenerate``, ``add_layer``, ...), so code and
buttons give the same results.

What follows TensorFlow Playground (tensorflow/playground, src/playground.ts,
src/nn.ts, src/dataset.ts): the data sets (`nnext.datasets.circle`, ``xor``,
``gaussians``, ``spiral``, ``plane``, ``multi_gaussian``: 500 points for
classification, 1,200 for regression), noise 0 to 0.5 (its slider over 100),
the training ratio, mini-batches in data order after one shuffle, the seven
input features on the raw coordinates in [-6, 6], at most 6 hidden layers of
at most 8 neurons, the activations ReLU, tanh, sigmoid and linear in the
hidden layers, a tanh output with labels -1/+1 for classification and a
linear output for regression, L1/L2 regularisation of the weights (not the
biases) with its rate, and the defaults (circle, 2 features, hidden layers
[4, 2], tanh, learning rate 0.03, batch size 10, ratio 0.5).

Where it differs: the loss is nnext's ``"mse"``, the mean of (y - p)^2 over
the rows (the Playground shows half of that, and its steps are those of
``lr / 2`` here); the weights start from nnext's ``init="xavier"`` with biases
at zero (the Playground: U(-0.5, 0.5) and 0.1); L1 is the plain subgradient
``rate * sign(w)`` (the Playground also clips weights that cross zero to 0);
changing the data, the features, the layers, the activation or the problem
starts a new network (epoch 0), while the learning rate, the batch size and
the regularisation apply from the next epoch on, as in the Playground.
"""
import base64
import copy
import math
import threading
import time
import zlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from . import _checks, datasets
from .network import _MAX_EPOCHS, Network

__all__ = ["Playground", "features", "FEATURES", "DATASETS", "ACTIVATIONS", "MAX_LAYERS", "MAX_NEURONS",
           "LEARNING_RATES", "REGULARIZATION_RATES", "HISTORY_CAP", "png"]

#: The input features, as functions of the points (n, 2) -> (n,).
FEATURES: Dict[str, Callable[[NDArray[np.float64]], NDArray[np.float64]]] = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1^2": lambda X: X[:, 0] ** 2,
    "x2^2": lambda X: X[:, 1] ** 2,
    "x1*x2": lambda X: X[:, 0] * X[:, 1],
    "sin(x1)": lambda X: np.sin(X[:, 0]),
    "sin(x2)": lambda X: np.sin(X[:, 1]),
}
#: Data sets by name -> (generator, problem).
DATASETS = {**{name: (f, "classification") for name, f in datasets.TOY_CLASSIFICATION.items()},
            **{name: (f, "regression") for name, f in datasets.TOY_REGRESSION.items()}}
PROBLEMS = ("classification", "regression")
#: The hidden layers' activations, as in the Playground.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
REGULARIZATIONS = (None, "l1", "l2")
#: TensorFlow Playground's limits: hidden layers, and neurons per hidden layer.
MAX_LAYERS, MAX_NEURONS = 6, 8
#: The Playground's menus (the code accepts any positive learning rate and any rate >= 0).
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: The points' domain, [-6, 6] on both axes.
DOMAIN = 6.0
MAX_BATCH = 30  # the Playground's batch-size slider goes to 30; the code accepts any size
LOSS = "mse"
#: The most records `Playground.history` keeps (the default of its ``history_cap``): at
#: 1,000 records of at most 49 deltas and 7 gradient norms, well under a megabyte.
HISTORY_CAP = 1000


def features(X: Any, names: Sequence[str]) -> NDArray[np.float64]:
    """The columns ``names`` (keys of `FEATURES`) computed from points ``X`` of
    shape (n, 2): a float64 array of shape (n, len(names))."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) (the points' x1, x2), got {X.shape}")
    names = _check_features(names)
    return np.column_stack([FEATURES[f](X) for f in names]) if X.shape[0] else np.empty((0, len(names)))


def _check_features(names):
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError(f"features must be a list of names from {list(FEATURES)}, got {names!r}")
    names = list(names)
    if not names:
        raise ValueError(f"features needs at least one of {list(FEATURES)}, got []")
    for i, f in enumerate(names):
        _checks.choice(f, FEATURES, f"feature features[{i}]")
    if len(set(names)) != len(names):
        raise ValueError(f"features lists a feature twice: {names!r}")
    return names


def _check_layers(layers):
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of hidden-layer widths such as [4, 2], got {layers!r}")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"layers: at most {MAX_LAYERS} hidden layers, got {len(layers)} ({list(layers)!r})")
    return [_checks.integer(w, f"layers[{i}] (neurons in hidden layer {i})", 1, MAX_NEURONS)
            for i, w in enumerate(layers)]


def _check_regularization(value):
    if value is not None and not isinstance(value, str):
        raise TypeError(f"regularization must be None, 'l1' or 'l2', got {value!r}")
    if isinstance(value, str):
        value = value.lower()
        if value == "none":
            value = None
    if value not in REGULARIZATIONS:
        raise ValueError(f"unknown regularization {value!r}; expected None, 'l1' or 'l2'")
    return value


class _State:
    """What a playground's calls change: settings, generator, data, network,
    epoch, segments, history and losses.  A call builds a new one (`replace`
    copies the references; the lists and dicts inside are never changed in
    place, only replaced) and makes it current with one assignment."""

    __slots__ = ("s", "last_dataset", "rng", "data_seed", "split_seed", "X_train", "y_train", "X_test",
                 "y_test", "F_train", "F_test", "net_seed", "network", "epoch", "segments", "history",
                 "stride", "train_loss", "test_loss", "error")

    def __init__(self, **values):
        for key in self.__slots__:
            setattr(self, key, values.get(key))

    def replace(self, **values):
        new = _State.__new__(_State)
        for key in self.__slots__:
            setattr(new, key, values[key] if key in values else getattr(self, key))
        return new


def _advanced(segments, done, kw):
    """The segments ([epochs, fit keyword arguments]) after `done` more epochs
    with `kw`: a new list, the old one untouched."""
    if not done:
        return segments
    if segments and segments[-1][1] == kw:
        return segments[:-1] + [[segments[-1][0] + done, kw]]
    return segments + [[done, kw]]


class Playground:
    """The playground's state: data, network, training settings and history.

    Parameters (each also settable later with `set`)
    ----------
    dataset : "circle", "xor", "gaussians", "spiral" (classification) or
        "plane", "multi_gaussian" (regression); it fixes ``problem``.
    problem : "classification" or "regression"; given alone it picks that
        problem's last data set (first: "circle" / "plane").
    noise : float in [0, 0.5].
    train_ratio : float in (0, 1): the share of the points used for training.
    batch_size : int >= 1 (at most the number of training points is used).
    features : list of `FEATURES` names, e.g. ["x1", "x2", "sin(x1)"].
    layers : hidden-layer widths, at most 6 layers of 1 to 8 neurons ([] for none).
    activation : the hidden layers' activation, one of `ACTIVATIONS`.
    lr : learning rate > 0.
    regularization : None, "l1" or "l2"; rate : its rate >= 0.
    n : number of points (default 500 for classification, 1,200 for regression).
    seed : int or None: every random draw (data, split, weights) comes from it,
        so the same calls on two playgrounds with the same seed give the same
        bits.
    history_cap : int >= 2, the most records `history` keeps (default
        `HISTORY_CAP`, 1,000); not a setting of `set`.

    Attributes: `epoch`, `train_loss`, `test_loss`, `network`, `history`,
    `history_stride`, `playing`, the data (`X_train`, `y_train`, `X_test`,
    `y_test`: the points, and `F_train`, `F_test`: their features).

    ``history`` is a dict of lists, one entry per record: ``"epoch"`` (epochs
    trained when recorded), ``"train_loss"`` and ``"test_loss"`` (the loss
    over the whole training and test set with the weights of that moment,
    without the regularisation term, as `train_loss` and `test_loss`),
    ``"gradient_norms"`` (each weight layer's norm sqrt(|dW|^2 + |db|^2) of
    the training loss's full-batch gradient) and ``"deltas"`` (each layer's
    bias gradient, see `delta`).  A record is taken at epoch 0, after every
    `history_stride`-th epoch and at the end of every `step` (and every round
    of `play`), so that the last record is always the current `epoch` and its
    losses are `train_loss` and `test_loss`; a record between two multiples of
    the stride is dropped when the next one comes.  The stride starts at 1
    (a record per epoch); when the records exceed ``history_cap``, every other
    one is dropped (those at odd multiples of the stride) and the stride
    doubles, as in TensorFlow Playground-like charts: memory stays bounded and
    the curves keep their whole span.  A record costs about two epochs of
    training on the playground's networks (a forward pass over each set and
    a forward and backward pass over the training set), so the first
    ``history_cap`` epochs take about three times as long as `Network.fit`
    alone; after that the overhead falls as the stride doubles (about half
    of fit's time over 10,000 epochs in all, a tenth over 100,000).  The losses
    are those of the whole set after the epoch, which is what test and
    training curves need to be compared; they are not `History.loss` of
    `Network.fit` (the mean of the batch losses during the epoch, with the
    regularisation term).
    """

    _DATA_KEYS = ("dataset", "problem", "noise", "train_ratio", "n")
    _NET_KEYS = ("features", "layers", "activation")
    _FIT_KEYS = ("lr", "batch_size", "regularization", "rate")

    def __init__(self, dataset: Optional[str] = None, *, problem: Optional[str] = None, noise: float = 0.0,
                 train_ratio: float = 0.5, batch_size: int = 10, features: Sequence[str] = ("x1", "x2"),
                 layers: Sequence[int] = (4, 2), activation: str = "tanh", lr: float = 0.03,
                 regularization: Optional[str] = None, rate: float = 0.0, n: Optional[int] = None,
                 seed: Optional[int] = None, history_cap: int = HISTORY_CAP) -> None:
        if seed is not None:
            seed = _checks.integer(seed, "seed", 0, 2**32 - 1)
        # 2 records (epoch 0 and the current epoch) always remain after thinning
        self._history_cap = _checks.integer(history_cap, "history_cap (the most records history keeps)", 2)
        self._lock = threading.RLock()
        self._listeners: List[Callable[["Playground"], None]] = []
        # the training thread and its own stop event: each play() has its own, so that a
        # pause() racing a play() stops the thread it saw, never one it did not
        self._run: Optional[Tuple[threading.Thread, threading.Event]] = None
        defaults = {"dataset": "circle", "problem": "classification", "noise": 0.0,
                    "train_ratio": 0.5, "batch_size": 10, "features": ["x1", "x2"],
                    "layers": [4, 2], "activation": "tanh", "lr": 0.03,
                    "regularization": None, "rate": 0.0, "n": None}
        empty = _State(s=defaults, last_dataset={"classification": "circle", "regression": "plane"},
                       rng=np.random.default_rng(seed))
        self._st = empty
        new = self._validated(dict(dataset=dataset, problem=problem, noise=noise,
                                   train_ratio=train_ratio, batch_size=batch_size,
                                   features=features, layers=layers, activation=activation, lr=lr,
                                   regularization=regularization, rate=rate, n=n))
        self._st = self._changed_state(empty, {**defaults, **new}, data=True, net=True)

    # ------------------------------------------------------------ the state
    #
    # Everything the calls change lives in one _State, replaced by one assignment
    # once the new one is complete: an error, a MemoryError or a Ctrl-C anywhere in
    # a call leaves the previous state whole (the network's parameters, trained in
    # place, are put back).  Readers take the current state as a whole.

    def __getattr__(self, name):
        st = self.__dict__.get("_st")
        if st is not None and name in st.s:
            value = st.s[name]
            return list(value) if isinstance(value, list) else value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    network = property(lambda self: self._st.network, doc="The `nnext.Network` being trained.")
    epoch = property(lambda self: self._st.epoch, doc="Epochs trained since the network was made.")
    history = property(lambda self: self._st.history, doc="The records (see `Playground`).")
    train_loss = property(lambda self: self._st.train_loss, doc="The loss over the training set now.")
    test_loss = property(lambda self: self._st.test_loss, doc="The loss over the test set now (NaN: none).")
    error = property(lambda self: self._st.error,
                     doc="The exception that stopped the last step or play (None when none did).")
    X_train = property(lambda self: self._st.X_train, doc="The training points (n, 2).")
    y_train = property(lambda self: self._st.y_train, doc="The training targets (n,).")
    X_test = property(lambda self: self._st.X_test, doc="The test points (n, 2).")
    y_test = property(lambda self: self._st.y_test, doc="The test targets (n,).")
    F_train = property(lambda self: self._st.F_train, doc="The training points' features.")
    F_test = property(lambda self: self._st.F_test, doc="The test points' features.")
    _segments = property(lambda self: self._st.segments)
    _data_seed = property(lambda self: self._st.data_seed)
    _split_seed = property(lambda self: self._st.split_seed)
    _net_seed = property(lambda self: self._st.net_seed)

    # ------------------------------------------------------------ settings

    def _validated(self, kw):
        """The settings in kw checked (None means "keep", except for
        regularization and n where it is a value); raises before anything changes."""
        s = self._st.s
        out = {}
        for key, value in kw.items():
            if key not in s:
                raise TypeError(f"unknown playground setting {key!r}; the settings are {list(s)}")
            if value is None and key not in ("regularization", "n"):
                continue
            if key == "dataset":
                value = _checks.choice(value, DATASETS, "dataset")
            elif key == "problem":
                value = _checks.choice(value, PROBLEMS, "problem")
            elif key == "noise":
                value = _checks.real(value, "noise", 0.0, 0.5)
            elif key == "train_ratio":
                value = _checks.real(value, "train_ratio", 0.0, 1.0, low_open=True, high_open=True)
            elif key == "batch_size":
                value = _checks.integer(value, "batch_size", 1)
            elif key == "features":
                value = _check_features(value)
            elif key == "layers":
                value = _check_layers(value)
            elif key == "activation":
                value = _checks.choice(value, ACTIVATIONS, "activation")
            elif key == "lr":
                value = _checks.real(value, "lr", 0.0, low_open=True)
            elif key == "regularization":
                value = _check_regularization(value)
            elif key == "rate":
                value = _checks.real(value, "rate (regularization rate)", 0.0)
            elif key == "n" and value is not None:
                # (at most what numpy can address: 2 float64 coordinates a point)
                value = _checks.integer(value, "n (number of points)", 2, np.iinfo(np.intp).max // 16)
            out[key] = value
        dataset, problem = out.get("dataset"), out.get("problem")
        if dataset is not None:
            implied = DATASETS[dataset][1]
            if problem is not None and problem != implied:
                raise ValueError(f"dataset {dataset!r} is a {implied} set, but problem={problem!r}")
            out["problem"] = implied
        elif problem is not None and problem != s["problem"]:
            out["dataset"] = self._st.last_dataset[problem]
        # the settings together: the training set needs a point
        merged = {**s, **out}
        n = merged["n"] if merged["n"] is not None else datasets.TOY_SAMPLES[merged["problem"]]
        if math.floor(n * merged["train_ratio"]) < 1:
            given = ", ".join(f"{k}={out[k]!r}" for k in ("n", "train_ratio") if k in out)
            raise ValueError(f"{given}: n={n} points with train_ratio={merged['train_ratio']!r} leave "
                             f"no training point (floor(n * train_ratio) = 0); raise n or train_ratio")
        return out

    def set(self, **settings: Any) -> None:
        """Change settings (the constructor's names).  Every value is checked
        first: a bad one raises ``TypeError``/``ValueError`` naming it and
        nothing changes (nor does anything when making the new data or network
        fails, e.g. a ``MemoryError`` for a huge ``n``, or Ctrl-C).  New data
        (dataset, problem, noise, train_ratio, n) draws new points and a new
        network; new features, layers or activation a new network; lr,
        batch_size, regularization and rate apply from the next epoch on."""
        with self._lock:
            changed = self._set_locked(settings)
        if changed:
            self._notify()

    def _set_locked(self, settings):
        """`set` with the lock held, without telling the listeners; True when something changed."""
        st = self._st
        new = self._validated(settings)
        changed = {k: v for k, v in new.items() if v != st.s[k]}
        if not changed:
            return False
        data = any(k in changed for k in self._DATA_KEYS)
        net = data or any(k in changed for k in self._NET_KEYS)
        self._st = self._changed_state(st, {**st.s, **changed}, data=data, net=net)
        return True

    def _changed_state(self, st, s, data, net):
        """The state after settings `s`: new data (data=True) and a new network
        (net=True) drawn from a copy of the state's generator, which is the new
        state's (so that a failure draws nothing)."""
        last = dict(st.last_dataset)
        last[s["problem"]] = s["dataset"]
        new = st.replace(s=s, last_dataset=last)
        if data or net:
            new.rng = copy.deepcopy(st.rng)
        if data:
            self._new_data(new)
        if net:
            self._new_network(new)
        return new

    @property
    def settings(self) -> Dict[str, Any]:
        """A copy of every setting (what `set` takes)."""
        s = self._st.s
        return {k: (list(v) if isinstance(v, list) else v) for k, v in s.items()}

    # ------------------------------------------------------------ the buttons
    #
    # Each button changes the state with the lock held and tells the listeners
    # after releasing it: a listener may then do anything (pause, step, set)
    # without waiting for a lock its own caller holds.

    def add_layer(self) -> None:
        """Add a hidden layer of 2 neurons at the end (the Playground's "+" button)."""
        with self._lock:
            layers = self._st.s["layers"]
            if len(layers) >= MAX_LAYERS:
                raise ValueError(f"at most {MAX_LAYERS} hidden layers")
            changed = self._set_locked(dict(layers=layers + [2]))
        if changed:
            self._notify()

    def remove_layer(self) -> None:
        """Remove the last hidden layer (the Playground's "-" button)."""
        with self._lock:
            layers = self._st.s["layers"]
            if not layers:
                raise ValueError("there is no hidden layer to remove")
            changed = self._set_locked(dict(layers=layers[:-1]))
        if changed:
            self._notify()

    def add_neuron(self, layer: int) -> None:
        """One more neuron in hidden layer ``layer`` (0-based)."""
        self._change_neurons(layer, +1)

    def remove_neuron(self, layer: int) -> None:
        """One neuron less in hidden layer ``layer`` (0-based)."""
        self._change_neurons(layer, -1)

    def _change_neurons(self, layer, by):
        with self._lock:
            layers = self._st.s["layers"]
            if not layers:
                raise ValueError("there is no hidden layer")
            layer = _checks.integer(layer, "layer (a hidden layer's index)", 0, len(layers) - 1)
            width = layers[layer] + by
            if not 1 <= width <= MAX_NEURONS:
                raise ValueError(f"hidden layer {layer} has {layers[layer]} neurons; it may have 1 to {MAX_NEURONS}")
            changed = self._set_locked(dict(layers=layers[:layer] + [width] + layers[layer + 1:]))
        if changed:
            self._notify()

    def toggle_feature(self, name: str) -> None:
        """Switch feature ``name`` on or off (the last one cannot be switched off)."""
        _checks.choice(name, FEATURES, "feature")
        with self._lock:
            feats = self._st.s["features"]
            if name in feats:
                changed = self._set_locked(dict(features=[f for f in feats if f != name]))
            else:
                changed = self._set_locked(dict(features=[f for f in FEATURES if f in feats or f == name]))
        if changed:
            self._notify()

    def regenerate(self) -> None:
        """New points from the same data set and settings, and a new network."""
        with self._lock:
            st = self._st
            self._st = self._changed_state(st, st.s, data=True, net=True)
        self._notify()

    def reset(self) -> None:
        """A new network with new random weights, epoch 0 (the data stay)."""
        with self._lock:
            st = self._st
            self._st = self._changed_state(st, st.s, data=False, net=True)
        self._notify()

    # ------------------------------------------------------------ state

    @staticmethod
    def _draw_seed(st):
        return int(st.rng.integers(0, 2**32))

    def _new_data(self, st):
        s = st.s
        generate = DATASETS[s["dataset"]][0]
        n = s["n"] if s["n"] is not None else datasets.TOY_SAMPLES[s["problem"]]
        st.data_seed, st.split_seed = self._draw_seed(st), self._draw_seed(st)
        try:
            X, y = generate(n, noise=s["noise"], seed=st.data_seed)
        except MemoryError:
            raise MemoryError(f"n={n} points do not fit in memory; choose a smaller n "
                              f"(the Playground's sets have {datasets.TOY_SAMPLES[s['problem']]})") from None
        (st.X_train, st.y_train), (st.X_test, st.y_test) = datasets.split(
            X, y, train_ratio=s["train_ratio"], seed=st.split_seed)

    @staticmethod
    def _sizes_of(s):
        return [len(s["features"])] + s["layers"] + [1]

    @staticmethod
    def _activations_of(s):
        out = "tanh" if s["problem"] == "classification" else "linear"
        return [s["activation"]] * len(s["layers"]) + [out]

    def _sizes(self):
        return self._sizes_of(self._st.s)

    def _activations(self):
        return self._activations_of(self._st.s)

    def _new_network(self, st):
        s = st.s
        st.F_train = features(st.X_train, s["features"])
        st.F_test = features(st.X_test, s["features"])
        st.net_seed = self._draw_seed(st)
        st.network = Network(self._sizes_of(s), activation=self._activations_of(s), init="xavier",
                             seed=st.net_seed)
        st.epoch = 0
        st.segments = []   # [epochs, fit keyword arguments] since the network was made
        st.history = {"epoch": [], "train_loss": [], "test_loss": [], "gradient_norms": [], "deltas": []}
        st.stride = 1
        st.error = None
        self._record(st)

    def _fit_kwargs(self):
        s = self._st.s
        kw = {"lr": s["lr"], "loss": LOSS, "batch_size": s["batch_size"]}
        if s["regularization"] is not None and s["rate"] > 0:
            kw[s["regularization"]] = s["rate"]
        return kw

    @property
    def history_cap(self) -> int:
        """The most records `history` keeps (the constructor's ``history_cap``)."""
        return self._history_cap

    @property
    def history_stride(self) -> int:
        """Epochs between two records of `history` (1 until the records
        exceed `history_cap`, then doubled each time they do)."""
        return self._st.stride

    _stride = history_stride

    def _record(self, st):
        """Sets st's losses and appends, to a copy of st's history (st.history
        is then the copy), the losses, the layers' gradient norms and the
        neurons' deltas at st.epoch, first dropping the last record if it is
        off the stride's grid or at this same epoch, and thins the records past
        the cap (see the class's docstring)."""
        net = st.network
        train_loss = net.loss(st.F_train, st.y_train, LOSS)
        test_loss = net.loss(st.F_test, st.y_test, LOSS) if len(st.y_test) else float("nan")
        dW, db = net.gradients(st.F_train, st.y_train, LOSS)
        h = {key: list(values) for key, values in st.history.items()}
        if h["epoch"] and (h["epoch"][-1] % st.stride or h["epoch"][-1] == st.epoch):
            for values in h.values():
                values.pop()
        h["epoch"].append(st.epoch)
        h["train_loss"].append(train_loss)
        h["test_loss"].append(test_loss)
        h["gradient_norms"].append([math.sqrt(float(np.vdot(w, w) + np.vdot(b, b))) for w, b in zip(dW, db)])
        h["deltas"].append([np.array(b, dtype=np.float64) for b in db])
        while len(h["epoch"]) > self._history_cap:
            st.stride *= 2
            last = len(h["epoch"]) - 1
            keep = [i for i, e in enumerate(h["epoch"]) if e % st.stride == 0 or i == last]
            for key, values in h.items():
                h[key] = [values[i] for i in keep]
        st.history, st.train_loss, st.test_loss = h, train_loss, test_loss

    # ------------------------------------------------------------ training

    def step(self, epochs: int = 1) -> None:
        """Train ``epochs`` epochs, recording the losses and the gradients in
        `history` after every `history_stride`-th epoch and at the end: one
        `Network.fit` call (one C call) per stretch between two records.  The
        Playground's "step" button is ``step(1)``.  A loss that turns NaN or
        infinite raises ``FloatingPointError`` (the weights are those of the
        last finite epoch, which `epoch` counts).  Ctrl-C stops it between
        two records: the network is put back to the last record's weights, so
        that `epoch`, `history`, the losses and `code` describe it."""
        epochs = _checks.integer(epochs, "epochs", 1, _MAX_EPOCHS)
        with self._lock:
            self._train(epochs)
        self._notify()

    def _train(self, epochs):
        # Fits of consecutive stretches equal one fit of them all (no shuffling,
        # no optimizer state), so code() still shows one fit per segment.
        kw = self._fit_kwargs()
        left = epochs
        while left:
            st = self._st
            net = st.network
            chunk = min(left, st.stride - st.epoch % st.stride)  # up to the next record
            before = net._checkpoint()
            try:
                try:
                    history, error = net.fit(st.F_train, st.y_train, epochs=chunk, **kw), None
                except FloatingPointError as e:
                    history, error = e.history, e
                done = len(history.loss)
                left -= done
                new = st.replace(epoch=st.epoch + done, segments=_advanced(st.segments, done, kw))
                if error is not None or not left or new.epoch % st.stride == 0:
                    self._record(new)
                if error is None and not math.isfinite(new.train_loss):
                    # every step's loss was finite, but the weights it left overflow the
                    # loss: as a non-finite loss, back to the last record's weights
                    net._rollback(before)
                    error = FloatingPointError(
                        f"the training loss became {new.train_loss} at epoch {new.epoch} (the weights "
                        f"grew too large; lr={kw['lr']}); weights restored to epoch {st.epoch}, the "
                        f"last record. Try a smaller learning rate.")
                    error.history = history
                    new = st.replace()
                if error is not None:
                    new.error = error
            except BaseException:
                net._rollback(before)  # the weights the current state describes
                raise
            self._st = new
            if error is not None:
                raise error

    def play(self, epochs_per_step: Optional[int] = None) -> None:
        """Train in a background thread until `pause` (returns at once; the C
        core releases the GIL, so the kernel stays free).  Each round trains
        ``epochs_per_step`` epochs, or by default as many as take about 20 ms,
        recording as `step` does, and tells the listeners (the view redraws,
        at most `frame_rate` times a second)."""
        if epochs_per_step is not None:
            epochs_per_step = _checks.integer(epochs_per_step, "epochs_per_step", 1, _MAX_EPOCHS)
        with self._lock:
            if self.playing:
                return
            stop = threading.Event()
            thread = threading.Thread(target=self._play_loop, args=(epochs_per_step, stop),
                                      name="nnext-playground", daemon=True)
            self._st = self._st.replace(error=None)
            thread.start()  # (first: pause() joins only a started thread)
            self._run = (thread, stop)
        self._notify()

    frame_rate = 15.0  # listener calls per second while playing

    def _play_loop(self, fixed, stop):
        chunk, last_frame = fixed or 1, 0.0
        try:
            while not stop.is_set():
                started = time.perf_counter()
                with self._lock:
                    if stop.is_set():
                        break
                    self._train(chunk)
                took = time.perf_counter() - started
                if fixed is None:  # about 20 ms of training per round
                    chunk = max(1, min(chunk * 4, int(chunk * 0.02 / took))) if took > 0 else chunk * 4
                now = time.perf_counter()
                if now - last_frame >= 1.0 / self.frame_rate:
                    last_frame = now
                    self._notify()
        except FloatingPointError:
            pass  # the state's error says what happened
        except BaseException as e:  # reported to the listeners, never lost
            with self._lock:
                self._st = self._st.replace(error=e)
        finally:
            stop.set()
            self._notify()

    def pause(self) -> None:
        """Stop playing; returns once the training thread has finished its
        current round (a few tens of milliseconds).  From a listener called by
        the training thread itself it returns at once (the thread stops after
        the listener)."""
        run = self._run
        if run is None:
            return
        thread, stop = run
        stop.set()
        if thread is not threading.current_thread():
            thread.join()

    @property
    def playing(self) -> bool:
        """Whether the training thread is running."""
        run = self._run
        return run is not None and run[0].is_alive() and not run[1].is_set()

    def on_change(self, callback: Callable[["Playground"], None]) -> None:
        """Call ``callback(playground)`` after every change, step and frame
        while playing (from the training thread then).  Listeners are called
        without the playground's lock held, so they may call any of its
        methods (`pause` included)."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        self._listeners.append(callback)

    def _notify(self):
        for f in list(self._listeners):
            f(self)

    # ------------------------------------------------------------ looking inside

    def gradient_norms(self) -> Tuple[NDArray[np.int64], NDArray[np.float64]]:
        """``(epochs, norms)``: at each recorded epoch (every `history_stride`
        epochs, see `Playground`), each weight layer's norm sqrt(|dW|^2 + |db|^2)
        of the gradient of the training loss over the whole training set (the
        mean squared error, without the regularisation term), with the weights
        of that moment; ``norms`` has shape (records, layers), layer 0 the
        first hidden layer, the last the output."""
        h = self._st.history
        return np.array(h["epoch"]), np.array(h["gradient_norms"])

    def delta(self, layer: int, neuron: int) -> Tuple[NDArray[np.int64], NDArray[np.float64]]:
        """``(epochs, deltas)``: at each recorded epoch (see `history`), neuron ``neuron`` of
        weight layer ``layer``'s delta dL/dz (z its weighted sum) summed over
        the training rows, which is the gradient of its bias.  Layer 0 is the
        first hidden layer, layer ``len(layers)`` the output."""
        st = self._st
        sizes = self._sizes_of(st.s)
        layer = _checks.integer(layer, "layer", 0, len(sizes) - 2)
        neuron = _checks.integer(neuron, "neuron", 0, sizes[layer + 1] - 1)
        return (np.array(st.history["epoch"]),
                np.array([d[layer][neuron] for d in st.history["deltas"]]))

    def grid(self, resolution: int = 100) -> Tuple[NDArray[np.float64], List[NDArray[Any]]]:
        """The network over the domain: ``(points, layers)`` with ``points`` of
        shape (resolution**2, 2), row-major from the top-left corner (x1 from
        -6 to 6 along a row, x2 from 6 down to -6), and ``layers`` the output
        of every layer (`Network.forward`), each of shape (resolution**2, width),
        the first being the features."""
        resolution = _checks.integer(resolution, "resolution", 2, 2000)
        c = np.linspace(-DOMAIN, DOMAIN, resolution)
        x1, x2 = np.meshgrid(c, c[::-1])
        P = np.column_stack([x1.ravel(), x2.ravel()])
        with self._lock:  # (the weights of the current state, not those of a round in progress)
            st = self._st
            return P, st.network.forward(features(P, st.s["features"]))

    # ------------------------------------------------------------ the code

    def code(self) -> str:
        """Lines of nnext that rebuild this playground's data and network and
        train it as it was trained: run them and ``net`` has the same weights,
        bit for bit, and ``train_loss``, ``test_loss`` the same losses."""
        with self._lock:
            st = self._st
            s = st.s
            n = s["n"] if s["n"] is not None else datasets.TOY_SAMPLES[s["problem"]]
            feats = repr(s["features"])
            lines = [
                "import nnext",
                "from nnext import datasets",
                "from nnext.playground import features",
                "",
                f"X, y = datasets.{s['dataset']}(n={n}, noise={s['noise']!r}, seed={st.data_seed})",
                f"(X_train, y_train), (X_test, y_test) = datasets.split(X, y, train_ratio={s['train_ratio']!r}, "
                f"seed={st.split_seed})",
                f"F_train, F_test = features(X_train, {feats}), features(X_test, {feats})",
                f"net = nnext.Network({self._sizes_of(s)!r}, activation={self._activations_of(s)!r}, "
                f"init=\"xavier\", seed={st.net_seed})",
            ]
            for epochs, kw in st.segments:
                args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
                lines.append(f"net.fit(F_train, y_train, epochs={epochs}, {args})")
            lines.append(f"train_loss, test_loss = net.loss(F_train, y_train, {LOSS!r}), "
                         f"net.loss(F_test, y_test, {LOSS!r})")
            lines.append(f"print(f\"epoch {st.epoch}: training loss {{train_loss:.4f}}, test loss {{test_loss:.4f}}\")")
            return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        st = self._st
        s = st.s
        return (f"Playground(dataset={s['dataset']!r}, layers={s['layers']!r}, activation={s['activation']!r}, "
                f"epoch={st.epoch}, train_loss={st.train_loss:.4g}, test_loss={st.test_loss:.4g})")

    def view(self) -> Any:
        """The widgets (needs ipywidgets): see `PlaygroundView`."""
        return PlaygroundView(self)


# ---------------------------------------------------------------- drawing

def png(rgb: Any) -> bytes:
    """A PNG file (bytes) of an (h, w, 3) uint8 image: zlib and the standard
    library only, so that the view needs no imaging library."""
    import struct
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"png needs an (h, w, 3) image, got shape {rgb.shape}")
    h, w, _ = rgb.shape
    raw = np.zeros((h, 1 + 3 * w), dtype=np.uint8)      # filter byte 0 before each row
    raw[:, 1:] = rgb.reshape(h, 3 * w)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


#: The Playground's colours: orange for -1, light grey for 0, blue for +1.
NEGATIVE, ZERO, POSITIVE = (245, 147, 34), (232, 234, 235), (8, 119, 189)


def colors(values: Any) -> NDArray[np.uint8]:
    """Values in [-1, 1] (clipped) -> RGB: orange, grey, blue, as the Playground."""
    v = np.clip(np.asarray(values, dtype=np.float64), -1.0, 1.0)[..., None]
    neg, zero, pos = (np.array(c, dtype=np.float64) for c in (NEGATIVE, ZERO, POSITIVE))
    out = np.where(v < 0, zero + (neg - zero) * (-v), zero + (pos - zero) * v)
    return np.round(out).astype(np.uint8)


def _data_uri(rgb):
    return "data:image/png;base64," + base64.b64encode(png(rgb)).decode("ascii")


def _upsample(values, k):
    """An (n, n) grid of values k times finer by linear interpolation along
    each axis (pixel centres kept), so that the heatmap is smooth."""
    n = values.shape[0]
    x = np.clip((np.arange(n * k) + 0.5) / k - 0.5, 0, n - 1)
    i0 = np.floor(x).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    t = x - i0
    rows = values[i0] * (1 - t)[:, None] + values[i1] * t[:, None]
    return rows[:, i0] * (1 - t) + rows[:, i1] * t


def _draw_points(img, P, values, size, edge):
    """Discs of the points' colours with a dark (train) or light (test) edge."""
    h = img.shape[0]
    px = np.round((P[:, 0] + DOMAIN) / (2 * DOMAIN) * (h - 1)).astype(int)
    py = np.round((DOMAIN - P[:, 1]) / (2 * DOMAIN) * (h - 1)).astype(int)
    fill = colors(values)
    r = size
    ys, xs = np.mgrid[-r - 1:r + 2, -r - 1:r + 2]
    d2 = xs * xs + ys * ys
    # the edge (a disc of radius r + 1), then the fill (radius r)
    for radius, paint in ((r + 1, None), (r, fill)):
        offsets = np.argwhere(d2 <= radius * radius) - (r + 1)
        for oy, ox in offsets:
            yy, xx = py + oy, px + ox
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < h)
            img[yy[ok], xx[ok]] = edge if paint is None else paint[ok]
    return img


def _svg_line_chart(series, width, height, log=False, labels=None, x=None):
    """An SVG polyline chart: series is a list of (values, colour), all over
    the same x (by default 0, 1, ...).  At most about one point per pixel
    column is drawn (first and last included): more would not show, and
    would only make every frame of the view bigger."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'style="background:#fafafa;border:1px solid #ddd">']
    vals = [np.asarray(v, dtype=np.float64) for v, _ in series]
    n = max((v.size for v in vals), default=0)
    x = np.arange(n, dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    if n > width:
        pick = np.unique(np.round(np.linspace(0, n - 1, width)).astype(int))
        x = x[pick]
        vals = [v[pick] for v in vals]
    vals = [np.log10(np.maximum(v, 1e-12)) if log else v for v in vals]
    finite = np.concatenate([v[np.isfinite(v)] for v in vals]) if vals else np.array([])
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if not log:
            lo = min(lo, 0.0)
        if hi - lo < 1e-12:
            hi = lo + 1.0
        for v, (_, colour) in zip(vals, series):
            if v.size < 2:
                continue
            span = x[-1] - x[0]
            xs = 2 + (x - x[0]) / (span if span > 0 else 1.0) * (width - 4)
            ys = height - 2 - (np.nan_to_num(v, nan=lo) - lo) / (hi - lo) * (height - 4)
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys))
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}"/>')
    if labels:
        for i, (text, colour) in enumerate(labels):
            parts.append(f'<text x="{width - 4}" y="{12 + 12 * i}" font-size="10" fill="{colour}" '
                         f'text-anchor="end">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


#: The features as the buttons show them.
FEATURE_LABELS = {"x1": "X₁", "x2": "X₂", "x1^2": "X₁²", "x2^2": "X₂²",
                  "x1*x2": "X₁X₂", "sin(x1)": "sin(X₁)", "sin(x2)": "sin(X₂)"}


class PlaygroundView:
    """The ipywidgets view of a `Playground` (``pg.view()``; display it in a
    notebook).  Drawing: ipywidgets.Image for the output heatmap (PNG made
    from NumPy with zlib) and ipywidgets.HTML holding SVG for the network (each
    neuron a PNG heatmap, each weight a line coloured by its sign, as wide as
    its magnitude) and the curves.  These are core widgets that JupyterLab
    renders with nothing to build or install besides ipywidgets, unlike a
    custom JavaScript widget; a frame of the default network is a few tens of
    kilobytes.  Every control calls the playground's own methods."""

    OUTPUT_RES, OUTPUT_SCALE, NEURON_RES = 100, 3, 36

    def __init__(self, playground: Playground) -> None:
        try:
            import ipywidgets as W
        except ImportError:
            raise ImportError("the playground's view needs ipywidgets: pip install \"nnext[playground]\" "
                              "(or pip install ipywidgets); the Playground object itself works without it") from None
        self.pg = pg = playground
        self._W = W
        self._draw_lock = threading.Lock()
        self._building = False
        lay = W.Layout
        s = pg.settings
        narrow = {"description_width": "70px"}
        self.dataset = W.Dropdown(options=[("Circle", "circle"), ("Exclusive or", "xor"), ("Gaussian", "gaussians"),
                                           ("Spiral", "spiral"), ("Plane (regression)", "plane"),
                                           ("Multi gaussian (regression)", "multi_gaussian")],
                                  value=s["dataset"], description="Data", layout=lay(width="230px"), style=narrow)
        self.problem = W.Dropdown(options=[("Classification", "classification"), ("Regression", "regression")],
                                  value=s["problem"], description="Problem", layout=lay(width="230px"), style=narrow)
        self.ratio = W.IntSlider(value=round(s["train_ratio"] * 100), min=10, max=90, step=10,
                                 description="Train %", layout=lay(width="230px"), style=narrow)
        self.noise = W.IntSlider(value=round(s["noise"] * 100), min=0, max=50, step=5, description="Noise",
                                 layout=lay(width="230px"), style=narrow)
        self.batch = W.IntSlider(value=min(s["batch_size"], MAX_BATCH), min=1, max=MAX_BATCH, description="Batch size",
                                 layout=lay(width="230px"), style=narrow)
        self.regen = W.Button(description="Regenerate", icon="refresh", layout=lay(width="120px"))
        self.lr = W.Dropdown(options=_menu(LEARNING_RATES, s["lr"]), value=s["lr"],
                             layout=lay(width="130px"))
        self.activation = W.Dropdown(options=[("ReLU", "relu"), ("Tanh", "tanh"), ("Sigmoid", "sigmoid"),
                                              ("Linear", "linear")], value=s["activation"],
                                     layout=lay(width="130px"))
        self.regularization = W.Dropdown(options=[("None", "none"), ("L1", "l1"), ("L2", "l2")],
                                         value=s["regularization"] or "none",
                                         layout=lay(width="130px"))
        self.rate = W.Dropdown(options=_menu(REGULARIZATION_RATES, s["rate"]), value=s["rate"],
                               layout=lay(width="130px"))
        self.reset_button = W.Button(description="Reset", icon="undo", layout=lay(width="90px"))
        self.play_button = W.Button(description="Play", icon="play", button_style="primary",
                                    layout=lay(width="90px"))
        self.step_button = W.Button(description="Step", icon="step-forward", layout=lay(width="90px"))
        self.epoch_label = W.HTML(layout=lay(width="110px", margin="0 10px"))
        self.epoch_label.add_class("nnext-epoch")
        self.features = {f: W.ToggleButton(value=f in s["features"], description="", layout=lay(width="84px"),
                                           tooltip=f) for f in FEATURES}
        for f, b in self.features.items():
            b.description = FEATURE_LABELS[f]
        self.add_layer_button = W.Button(description="+ layer", layout=lay(width="80px"))
        self.remove_layer_button = W.Button(description="- layer", layout=lay(width="80px"))
        self.neuron_buttons = W.HBox()
        self.network_svg = W.HTML()
        self.output_image = W.Image(format="png", width=self.OUTPUT_RES * self.OUTPUT_SCALE,
                                    height=self.OUTPUT_RES * self.OUTPUT_SCALE)
        self.output_image.add_class("nnext-output")
        self.show_test = W.Checkbox(value=False, description="Show test data", indent=False)
        self.discretize = W.Checkbox(value=False, description="Discretize output", indent=False)
        self.loss_html = W.HTML()
        self.inside_html = W.HTML()
        self.neuron_pick = W.Dropdown(description="Delta of", layout=lay(width="220px"))
        self.code_button = W.Button(description="Show the code", icon="code", layout=lay(width="140px"))
        self.code_html = W.HTML()
        self.status = W.HTML()

        self._wire()
        def labelled(widget, text):
            return W.VBox([W.HTML(f"<span style='font-size:11px;color:#666'>{text}</span>"), widget],
                          layout=lay(margin="0 6px"))

        controls = W.HBox([self.reset_button, self.play_button, self.step_button, self.epoch_label,
                           labelled(self.lr, "Learning rate"), labelled(self.activation, "Activation"),
                           labelled(self.regularization, "Regularization"),
                           labelled(self.rate, "Regularization rate")], layout=lay(align_items="center"))
        data_col = W.VBox([W.HTML("<b>DATA</b>"), self.problem, self.dataset, self.ratio, self.noise,
                           self.batch, self.regen], layout=lay(width="240px", min_width="240px"))
        feat_col = W.VBox([W.HTML("<b>FEATURES</b>")] + list(self.features.values()),
                          layout=lay(width="92px", min_width="92px"))
        net_col = W.VBox([W.HBox([W.HTML("<b>HIDDEN LAYERS</b>&nbsp;"), self.add_layer_button,
                                  self.remove_layer_button]),
                          self.neuron_buttons, self.network_svg],
                         layout=lay(overflow="auto", min_width="360px", flex="1 1 auto"))
        out_col = W.VBox([W.HTML("<b>OUTPUT</b>"), self.loss_html, self.output_image,
                          W.HBox([self.show_test, self.discretize])], layout=lay(width="306px", min_width="306px"))
        inside = W.VBox([W.HTML("<b>SEEING INSIDE</b>"), self.neuron_pick, self.inside_html])
        self.box = W.VBox([controls, W.HBox([data_col, feat_col, net_col, out_col]),
                           W.HBox([inside, W.VBox([self.code_button, self.code_html])]), self.status])
        self.box.add_class("nnext-playground")
        pg.on_change(self._changed)
        self.redraw()

    # -- wiring: each control calls the playground's method

    def _wire(self):
        pg = self.pg

        def setter(key, convert=lambda v: v):
            def on(change):
                if not self._building:
                    self._guard(pg.set, **{key: convert(change["new"])})
            return on

        self.dataset.observe(setter("dataset"), "value")
        self.problem.observe(setter("problem"), "value")
        self.ratio.observe(setter("train_ratio", lambda v: v / 100), "value")
        self.noise.observe(setter("noise", lambda v: v / 100), "value")
        self.batch.observe(setter("batch_size"), "value")
        self.lr.observe(setter("lr"), "value")
        self.activation.observe(setter("activation"), "value")
        self.regularization.observe(setter("regularization", lambda v: None if v == "none" else v), "value")
        self.rate.observe(setter("rate"), "value")
        self.regen.on_click(lambda _: self._guard(pg.regenerate))
        self.reset_button.on_click(lambda _: self._guard(pg.reset))
        self.step_button.on_click(lambda _: self._guard(pg.step, 1))
        self.play_button.on_click(lambda _: self._guard(pg.pause if pg.playing else pg.play))
        self.add_layer_button.on_click(lambda _: self._guard(pg.add_layer))
        self.remove_layer_button.on_click(lambda _: self._guard(pg.remove_layer))
        for f, b in self.features.items():
            b.observe(lambda change, f=f: None if self._building else self._guard(pg.toggle_feature, f), "value")
        self.show_test.observe(lambda _: self.redraw(), "value")
        self.discretize.observe(lambda _: self.redraw(), "value")
        self.neuron_pick.observe(lambda _: None if self._building else self.redraw(), "value")
        self.code_button.on_click(lambda _: self._show_code())

    def _guard(self, method, *args, **kw):
        """Run a playground method; an error shows in the status line instead of being lost."""
        try:
            method(*args, **kw)
            self.status.value = ""
        except (ValueError, TypeError, FloatingPointError) as e:
            self.status.value = f'<span style="color:#c00">{type(e).__name__}: {e}</span>'
            self.redraw()

    def _show_code(self):
        import html
        self.code_html.value = "<pre style='font-size:11px;line-height:1.3'>" + html.escape(self.pg.code()) + "</pre>"

    def _changed(self, pg):
        self.redraw()

    def close(self) -> None:
        """Stop following the playground and close the widgets."""
        if self._changed in self.pg._listeners:
            self.pg._listeners.remove(self._changed)
        self.box.close()

    # -- drawing

    def redraw(self) -> None:
        """Bring every widget up to date with the playground (any thread)."""
        if not self._draw_lock.acquire(blocking=False):
            return  # a frame is being drawn; the next change draws again
        try:
            self._redraw()
        finally:
            self._draw_lock.release()

    def _redraw(self):
        pg = self.pg
        with pg._lock:
            s = pg.settings
            P, layers = pg.grid(self.OUTPUT_RES)
            _, small = pg.grid(self.NEURON_RES)
            weights = [w.astype(np.float64) for w in pg.network.weights]
            hist = {k: list(v) for k, v in pg.history.items() if k != "deltas"}
            picks = [(f"layer {l} neuron {j}" if l < len(s["layers"]) else "output", (l, j))
                     for l, width in enumerate(s["layers"] + [1]) for j in range(width)]
            pick = self.neuron_pick.value if self.neuron_pick.value in [p for _, p in picks] else picks[0][1]
            delta = pg.delta(*pick)[1]
            epoch, train_loss, test_loss, playing = pg.epoch, pg.train_loss, pg.test_loss, pg.playing
            error = pg.error
            points = (pg.X_train, pg.y_train, pg.X_test, pg.y_test)
        self._building = True
        try:
            self._sync_controls(s, picks, pick)
        finally:
            self._building = False
        # the output heatmap and the points
        out = _upsample(layers[-1][:, 0].astype(np.float64).reshape(self.OUTPUT_RES, self.OUTPUT_RES),
                        self.OUTPUT_SCALE)
        if self.discretize.value:
            out = np.sign(out)
        img = colors(out * 0.85)   # 0.85: paler than the points, which stand out
        Xtr, ytr, Xte, yte = points
        _draw_points(img, Xtr, ytr, 2, (255, 255, 255))
        if self.show_test.value:
            _draw_points(img, Xte, yte, 2, (0, 0, 0))
        self.output_image.value = png(img)
        self.network_svg.value = self._network_svg(s, small, weights)
        self.epoch_label.value = (f'<div style="font-size:13px">Epoch<br><span class="nnext-epoch-value" '
                                  f'style="font-size:22px">{epoch:,}</span></div>')
        self.loss_html.value = (f'<div>Test loss <b class="nnext-test-loss">{test_loss:.3f}</b>&nbsp; '
                                f'Training loss <b class="nnext-train-loss">{train_loss:.3f}</b></div>'
                                + _svg_line_chart([(hist["test_loss"], "#333"), (hist["train_loss"], "#999")],
                                                  300, 60, log=True, x=hist["epoch"],
                                                  labels=[("test", "#333"), ("training", "#999"), ("log scale", "#bbb")]))
        norms = np.array(hist["gradient_norms"])
        palette = ["#0877bd", "#f59322", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#333"]
        series = [(norms[:, l], palette[l % len(palette)]) for l in range(norms.shape[1])] if norms.size else []
        labels = [(f"layer {l}" if l < len(s["layers"]) else "output", palette[l % len(palette)])
                  for l in range(norms.shape[1] if norms.size else 0)]
        name = "output" if pick[0] == len(s["layers"]) else f"layer {pick[0]} neuron {pick[1]}"
        self.inside_html.value = (
            "<div style='display:inline-block;margin-right:16px'>"
            "<div style='font-size:11px'>gradient norm per layer (log scale)</div>"
            + _svg_line_chart(series, 300, 80, log=True, labels=labels, x=hist["epoch"]) + "</div>"
            + "<div style='display:inline-block'>"
            + f"<div style='font-size:11px'>delta dL/dz of {name}, summed over the training rows: "
              f"{delta[-1]:.3g}</div>"
            + _svg_line_chart([(delta, "#0877bd")], 300, 80, x=hist["epoch"]) + "</div>")
        self.play_button.description = "Pause" if playing else "Play"
        self.play_button.icon = "pause" if playing else "play"
        if error is not None:
            self.status.value = f'<span style="color:#c00">{type(error).__name__}: {error}</span>'

    def _sync_controls(self, s, picks, pick):
        """Controls show the playground's settings (after code changed them)."""
        self.dataset.value = s["dataset"]
        self.problem.value = s["problem"]
        self.ratio.value = round(s["train_ratio"] * 100)
        self.noise.value = round(s["noise"] * 100)
        self.batch.value = min(s["batch_size"], MAX_BATCH)
        if s["lr"] not in self.lr.options:
            self.lr.options = _menu(LEARNING_RATES, s["lr"])
        self.lr.value = s["lr"]
        self.activation.value = s["activation"]
        self.regularization.value = s["regularization"] or "none"
        if s["rate"] not in self.rate.options:
            self.rate.options = _menu(REGULARIZATION_RATES, s["rate"])
        self.rate.value = s["rate"]
        for f, b in self.features.items():
            b.value = f in s["features"]
            b.button_style = "info" if b.value else ""
        if list(self.neuron_pick.options) != picks:
            self.neuron_pick.options = picks
        self.neuron_pick.value = pick
        W = self._W
        if len(self.neuron_buttons.children) != len(s["layers"]) or any(
                c._nnext_width != w for c, w in zip(self.neuron_buttons.children, s["layers"])):
            boxes = []
            for l, width in enumerate(s["layers"]):
                plus = W.Button(description="+", layout=W.Layout(width="24px", padding="0"),
                                tooltip=f"add a neuron to layer {l}")
                minus = W.Button(description="-", layout=W.Layout(width="24px", padding="0"),
                                 tooltip=f"remove a neuron from layer {l}")
                plus.on_click(lambda _, l=l: self._guard(self.pg.add_neuron, l))
                minus.on_click(lambda _, l=l: self._guard(self.pg.remove_neuron, l))
                box = W.HBox([minus, W.HTML(f"<span style='font-size:11px'>&nbsp;{width}&nbsp;</span>"), plus],
                             layout=W.Layout(width=f"{self.COLUMN}px", min_width=f"{self.COLUMN}px",
                                             justify_content="center"))
                box._nnext_width = width
                boxes.append(box)
            self.neuron_buttons.children = boxes
            # each box centred over its column of neurons (see _network_svg)
            self.neuron_buttons.layout.margin = f"0 0 0 {10 + self.COLUMN + self.NODE // 2 - self.COLUMN // 2}px"

    COLUMN, NODE = 84, 34

    def _network_svg(self, s, small, weights):
        """Columns of neuron heatmaps (features, hidden layers, output) and the
        weights between them: blue positive, orange negative, width by magnitude."""
        node, col = self.NODE, self.COLUMN
        widths = [len(s["features"])] + s["layers"] + [1]
        gap = 44
        height = max(widths) * gap + 10
        width = col * (len(widths) - 1) + node + 20
        ys = [[10 + (height - 10 - w * gap) / 2 + i * gap for i in range(w)] for w in widths]
        xs = [10 + c * col for c in range(len(widths))]
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="nnext-network">']
        for l, W in enumerate(weights):   # (n_in, n_out)
            for i in range(W.shape[0]):
                for j in range(W.shape[1]):
                    w = float(W[i, j])
                    stroke = "#0877bd" if w > 0 else "#f59322"
                    sw = min(10.0, 0.5 + abs(w) * 1.8)
                    x0, y0 = xs[l] + node, ys[l][i] + node / 2
                    x1, y1 = xs[l + 1], ys[l + 1][j] + node / 2
                    parts.append(f'<path d="M{x0:.1f},{y0:.1f} C{(x0 + x1) / 2:.1f},{y0:.1f} '
                                 f'{(x0 + x1) / 2:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" fill="none" stroke="{stroke}" '
                                 f'stroke-opacity="0.75" stroke-width="{sw:.2f}"><title>weight {w:.3f}</title></path>')
        r = self.NEURON_RES
        for l, layer in enumerate(small):
            values = layer.astype(np.float64)
            if l == 0:   # the features: scaled to [-1, 1] over the domain, as the Playground shows them
                scale = np.maximum(np.max(np.abs(values), axis=0), 1e-12)
                values = values / scale
            for j in range(values.shape[1]):
                uri = _data_uri(colors(values[:, j].reshape(r, r)))
                name = (s["features"][j] if l == 0 else "output" if l == len(small) - 1 else f"layer {l - 1} neuron {j}")
                parts.append(f'<image x="{xs[l]}" y="{ys[l][j]:.1f}" width="{node}" height="{node}" href="{uri}" '
                             f'style="image-rendering:pixelated"><title>{name}</title></image>'
                             f'<rect x="{xs[l]}" y="{ys[l][j]:.1f}" width="{node}" height="{node}" fill="none" '
                             f'stroke="#666" stroke-width="1"/>')
        parts.append("</svg>")
        return "".join(parts)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.box)


def _menu(values, current):
    """A dropdown's options: the Playground's menu, plus the current value if it is not on it."""
    values = sorted(set(values) | {current})
    return [(f"{v:g}", v) for v in values]
