"""fit(..., progress=True): a tqdm progress bar with the current loss, or a
clear ImportError (before any weight changes) when tqdm is not installed."""
import sys

import numpy as np
import pytest

from conftest import assert_same_params, raises_mentioning, snapshot
from nnext import Network

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
Y = np.array([[0], [1], [1], [0]])


@pytest.fixture
def recorded_bars(monkeypatch):
    """Every bar fit creates, via a recording subclass of tqdm.auto.tqdm."""
    tqdm_auto = pytest.importorskip("tqdm.auto", reason="tqdm is not installed: pip install tqdm")
    bars = []

    class Recording(tqdm_auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm_auto, "tqdm", Recording)
    return bars


def test_bar_reaches_epochs_and_shows_loss(recorded_bars):
    net = Network([3, 4, 1], bias=False, seed=1)
    history = net.fit(X, Y, epochs=3000, lr=1.0, loss="sse", progress=True)
    assert len(recorded_bars) == 1
    bar = recorded_bars[0]
    assert bar.total == 3000
    assert bar.n == 3000 == len(history.loss)
    assert "loss=" in bar.postfix
    shown = float(bar.postfix.split("loss=")[1].split(",")[0])
    assert shown == pytest.approx(history.loss[-1], rel=1e-3)


def test_bar_stops_where_training_stops(recorded_bars):
    net = Network([3, 4, 1], bias=False, seed=1)
    history = net.fit(X, Y, epochs=500, lr=1.0, loss="sse", progress=True,
                      callback=lambda epoch, net, loss: epoch < 9)
    assert len(history.loss) == 10
    assert recorded_bars[0].total == 500
    assert recorded_bars[0].n == 10


def test_text_bar_in_a_terminal(capsys):
    pytest.importorskip("tqdm", reason="tqdm is not installed: pip install tqdm")
    net = Network([3, 4, 1], bias=False, seed=1)
    net.fit(X, Y, epochs=2000, lr=1.0, loss="sse", progress=True)
    err = capsys.readouterr().err
    assert "2000/2000" in err
    assert "loss=" in err


def test_progress_changes_nothing_in_the_result(recorded_bars):
    quiet = Network([3, 4, 1], bias=False, seed=1)
    shown = Network([3, 4, 1], bias=False, seed=1)
    h_quiet = quiet.fit(X, Y, epochs=20000, lr=1.0, loss="sse")
    h_shown = shown.fit(X, Y, epochs=20000, lr=1.0, loss="sse", progress=True)
    np.testing.assert_allclose(h_shown.loss, h_quiet.loss, rtol=1e-12)
    for a, b in zip(shown.weights, quiet.weights):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _hide_tqdm(monkeypatch):
    for name in [m for m in sys.modules if m == "tqdm" or m.startswith("tqdm.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_without_tqdm_fit_says_how_to_install_it(monkeypatch):
    _hide_tqdm(monkeypatch)
    with pytest.raises(ImportError):  # the hiding works
        __import__("tqdm.auto")
    for optimizer in ("sgd", "adam"):
        net = Network([3, 4, 1], seed=2)
        msg = raises_mentioning(ImportError, ["pip install tqdm"],
                                lambda: net.fit(X, Y, epochs=10, optimizer=optimizer, progress=True), net=net)
        assert "progress" in msg


def test_without_tqdm_fit_without_progress_still_works(monkeypatch):
    _hide_tqdm(monkeypatch)
    net = Network([3, 4, 1], seed=2)
    before = snapshot(net)
    history = net.fit(X, Y, epochs=10)
    assert len(history.loss) == 10
    with pytest.raises(AssertionError):
        assert_same_params(net, before)  # it trained
