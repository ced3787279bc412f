"""Errors that teach (issue 30, "the first ten minutes"): each message names
the argument, what was expected, what came and the likely fix, and leaves
the network as it was; scipy sparse inputs are taken; the keyword names of
Keras, scikit-learn and PyTorch are answered with nnext's; `help(Network)`
shows recommended settings; fit hints once when the tutorials' defaults leave
a classifier no better than a constant output."""
import doctest
import inspect
import pydoc
import subprocess
import sys
import traceback
import warnings

import numpy as np
import pytest

from conftest import assert_same_params, child_env, snapshot
from nnext import Network, _checks, tutorials

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)  # Trask's
Y_ROW = np.array([[0, 1, 1, 0]])                                              # without .T
LABELS = np.array([0, 1, 2, 1])


def raises(exc, fn, net=None):
    """fn()'s exception of type exc, its message; the network unchanged."""
    snap = snapshot(net) if net is not None else None
    with pytest.raises(exc) as info:
        fn()
    if net is not None:
        assert_same_params(net, snap)
    return str(info.value)


def assert_mentions(msg, *parts):
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


# ------------------------------------------------------------- y's shape

@pytest.mark.parametrize("call", ["fit", "loss", "gradients"])
def test_y_as_one_row_suggests_its_transpose(call):
    """Trask's y without .T: shape (1, 4) for 4 rows of X."""
    net = Network([3, 4, 1], bias=False, seed=1)
    msg = raises(ValueError, lambda: getattr(net, call)(X, Y_ROW), net)
    assert_mentions(msg, "y has shape (1, 4)", "X has 4 rows", "1 output", "y is one row",
                    "did you mean y.T, shape (4, 1)?")


def test_y_as_a_list_row_suggests_an_array_transpose():
    net = Network([3, 4, 1], seed=0)
    msg = raises(ValueError, lambda: net.fit(X.tolist(), [[0, 1, 1, 0]]), net)
    assert_mentions(msg, "(1, 4)", "np.asarray(y).T", "(4, 1)")


def test_y_transposed_for_several_outputs():
    net = Network([3, 4, 2], seed=0)
    msg = raises(ValueError, lambda: net.fit(X, np.ones((2, 4))), net)
    assert_mentions(msg, "y has shape (2, 4)", "X has 4 rows", "2 outputs", "transposed", "y.T",
                    "(4, 2)")


def test_validation_y_as_one_row_is_named_as_such():
    net = Network([3, 4, 1], seed=0)
    msg = raises(ValueError, lambda: net.fit(X, Y_ROW.T, validation_data=(X, Y_ROW)), net)
    assert_mentions(msg, "y_val has shape (1, 4)", "X_val has 4 rows", "y_val.T")


@pytest.mark.parametrize("call", ["fit", "loss", "gradients"])
def test_integer_labels_as_a_column_with_cross_entropy(call):
    net = Network([3, 4, 3], activation=["tanh", "softmax"], seed=0)
    msg = raises(ValueError, lambda: getattr(net, call)(X, LABELS[:, None], loss="cross_entropy"),
                 net)
    assert_mentions(msg, "y has shape (4, 1)", "3 outputs", "needs shape (4, 3)",
                    "integer class labels go as shape (n,)", "y.ravel()",
                    "one-hot targets as (n, 3)")


def test_integer_labels_with_a_squared_loss_point_at_one_hot_and_cross_entropy():
    net = Network([3, 4, 3], seed=0)
    for y, shape in ((LABELS, "(4,)"), (LABELS[:, None], "(4, 1)")):
        msg = raises(ValueError, lambda: net.fit(X, y), net)
        assert_mentions(msg, shape, "3 outputs", "np.eye(3)", "loss='cross_entropy'",
                        "Recommended settings")


def test_y_of_the_wrong_width_says_both_ways_out():
    net = Network([3, 4, 1], seed=0)
    msg = raises(ValueError, lambda: net.fit(X, np.ones((4, 2))), net)
    assert_mentions(msg, "y has shape (4, 2)", "1 output", "needs shape (4, 1)",
                    "pass y with 1 columns", "Network([..., 2])")


def test_rows_that_differ_keep_the_binding_message_with_both_shapes():
    net = Network([3, 4, 1], seed=0)
    msg = raises(ValueError, lambda: net.fit(X, np.ones((3, 1))), net)
    assert_mentions(msg, "(4, 3)", "(3, 1)")


# ------------------------------------------------------------ y's dtype

@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("kind", ["str", "object", "list"])
def test_string_labels_say_how_to_encode_them(kind, loss):
    net = Network([3, 4, 3], activation=["tanh", "softmax" if loss == "cross_entropy" else "sigmoid"],
                  seed=0)
    y = {"str": np.array(list("abca")), "object": np.array(list("abca"), dtype=object),
         "list": list("abca")}[kind]
    msg = raises(TypeError, lambda: net.fit(X, y, loss=loss), net)
    assert_mentions(msg, "y must hold real numbers", "'a'", "np.unique(y, return_inverse=True)",
                    "nnext.sklearn.MLPClassifier", "any labels")
    if kind != "object":
        assert "<U1" in msg
    else:
        assert "object" in msg


def test_string_features_say_how_to_encode_them():
    net = Network([3, 4, 1], seed=0)
    Xs = np.array([["a", "b", "c"]] * 4)
    for call in (lambda: net.predict(Xs), lambda: net.fit(Xs, Y_ROW.T)):
        msg = raises(TypeError, call, net)
        assert_mentions(msg, "X must hold real numbers", "<U1", "'a'", "OneHotEncoder",
                        "dtype=float")


# ---------------------------------------------------------- X's width

@pytest.mark.parametrize("call", ["fit", "loss", "gradients", "predict", "forward"])
def test_input_width_names_sizes0_and_both_fixes(call):
    net = Network([4, 1], seed=0)
    args = (X,) if call in ("predict", "forward") else (X, Y_ROW.T)
    msg = raises(ValueError, lambda: getattr(net, call)(*args), net)
    assert_mentions(msg, "the network's input width sizes[0] is 4", "X has 3 columns",
                    "(shape (4, 3))", "Network([3, ...])", "pass X with 4 columns")


def test_input_width_of_one_sample():
    net = Network([4, 1], seed=0)
    msg = raises(ValueError, lambda: net.feedforward(X[0]), net)
    assert_mentions(msg, "sizes[0] is 4", "x is one sample of 3 values", "(3,)", "4 values",
                    "Network([3, ...])")
    msg = raises(ValueError, lambda: net.predict(X[0]), net)
    assert_mentions(msg, "sizes[0] is 4", "X is one sample of 3 values", "(3,)")


def test_validation_x_of_the_wrong_width_is_named_and_not_told_to_rebuild():
    net = Network([3, 4, 1], seed=0)
    msg = raises(ValueError, lambda: net.fit(X, Y_ROW.T, validation_data=(X[:, :2], Y_ROW.T)), net)
    assert_mentions(msg, "sizes[0] is 3", "X_val has 2 columns", "(4, 2)", "pass X_val with 3")
    assert "Network([2" not in msg


def test_one_feature_as_a_vector_suggests_a_column():
    net = Network([1, 3, 1], seed=0)
    msg = raises(ValueError, lambda: net.fit(np.arange(4.0), np.arange(4.0)), net)
    assert_mentions(msg, "X must be 2-D", "(4,)", "X.reshape(-1, 1)")


def test_other_binding_errors_are_left_as_they_were():
    net = Network([3, 4, 1], seed=0)
    bad = X.copy()
    bad[1, 2] = np.nan
    assert_mentions(raises(ValueError, lambda: net.fit(bad, Y_ROW.T), net), "X contains NaN")
    assert_mentions(raises(ValueError, lambda: net.predict(bad), net), "X contains NaN")
    msg = raises(ValueError, lambda: net.fit(X, Y_ROW.T, validation_data=(bad, Y_ROW.T)), net)
    assert_mentions(msg, "validation_data=(X_val, y_val): X contains NaN")


# ----------------------------------------------------------- sparse X

SPARSE_FORMATS = ["csr_matrix", "csc_matrix", "coo_matrix", "csr_array"]


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_scipy_sparse_inputs_are_taken_as_their_dense_arrays(fmt):
    sparse = pytest.importorskip("scipy.sparse")
    make = getattr(sparse, fmt)
    Xs = make(X)
    net = Network([3, 4, 3], activation=["tanh", "softmax"], seed=0)
    np.testing.assert_array_equal(net.predict(Xs), net.predict(X))
    for a, b in zip(net.forward(Xs), net.forward(X)):
        np.testing.assert_array_equal(a, b)
    assert net.loss(Xs, LABELS, "cross_entropy") == net.loss(X, LABELS, "cross_entropy")
    for a, b in zip(net.gradients(Xs, LABELS, "cross_entropy")[0],
                    net.gradients(X, LABELS, "cross_entropy")[0]):
        np.testing.assert_array_equal(a, b)
    one = Network([3, 1], seed=0)
    assert one.feedforward(make(X[:1])).shape == (1, 1)
    twin = net.copy()
    Ys = make(np.eye(3)[LABELS])  # sparse one-hot targets too
    h1 = net.fit(Xs, Ys, epochs=5, loss="cross_entropy", validation_data=(Xs, Ys))
    h2 = twin.fit(X, np.eye(3)[LABELS], epochs=5, loss="cross_entropy",
                  validation_data=(X, np.eye(3)[LABELS]))
    assert h1.loss == h2.loss and h1.val_loss == h2.val_loss
    for a, b in zip(net.weights, twin.weights):
        np.testing.assert_array_equal(a, b)


def test_sparse_x_of_the_wrong_width_is_explained_after_densifying():
    sparse = pytest.importorskip("scipy.sparse")
    net = Network([4, 1], seed=0)
    msg = raises(ValueError, lambda: net.predict(sparse.csr_matrix(X)), net)
    assert_mentions(msg, "sizes[0] is 4", "X has 3 columns")


def test_nnext_does_not_import_scipy(tmp_path):
    code = ("import sys, numpy as np, nnext\n"
            "net = nnext.Network([3, 1], seed=0)\n"
            "net.fit(np.ones((4, 3)), np.ones(4), epochs=2)\n"
            "try:\n    net.predict(np.ones((4, 2)))\nexcept ValueError:\n    pass\n"
            "assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=child_env())
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------- keyword arguments

FIT_ALIASES = [
    ("learning_rate", 0.1, ["did you mean lr?"]),
    ("learning_rate_init", 0.1, ["did you mean lr?"]),
    ("learning_rate", "adaptive", ["did you mean lr_schedule?", "the rate itself is lr"]),
    ("epoch", 10, ["did you mean epochs?"]),
    ("n_epochs", 10, ["did you mean epochs?"]),
    ("num_epochs", 10, ["did you mean epochs?"]),
    ("max_iter", 10, ["did you mean epochs?"]),
    ("validation_split", 0.2, ["did you mean validation_data?", "validation_data=(X_val, y_val)"]),
    ("callbacks", [], ["did you mean callback?", "callback(epoch, net, loss)"]),
    ("batch", 2, ["did you mean batch_size?"]),
    ("bs", 2, ["did you mean batch_size?"]),
    ("optim", "adam", ["did you mean optimizer?"]),
    ("solver", "adam", ["did you mean optimizer?"]),
    ("random_state", 0, ["did you mean seed?"]),
    ("alpha", 0.1, ["did you mean lr or l2?"]),
    ("weight_decay", 0.1, ["did you mean l2?"]),
    ("epsilon", 1e-7, ["did you mean eps?"]),
    ("beta_1", 0.9, ["did you mean beta1?"]),
    ("nesterovs_momentum", True, ["did you mean nesterov?"]),
    ("patience", 3, ["did you mean early_stopping?"]),
    ("verbosity", 1, ["did you mean verbose?"]),
    ("verbos", 1, ["did you mean verbose?"]),      # typos: difflib's close matches
    ("verbse", 1, ["did you mean verbose?"]),
    ("vebrose", 1, ["did you mean verbose?"]),
    ("lr_shedule", "constant", ["did you mean lr_schedule?"]),
    ("momentun", 0.5, ["did you mean momentum?"]),
    ("LR", 0.1, ["did you mean lr?"]),              # case
    ("activation", "relu", ["activation is an argument of Network(), not Network.fit()",
                            "Network(sizes, activation=...)"]),
    ("init", "he", ["init is an argument of Network(), not Network.fit()"]),
]


@pytest.mark.parametrize("name,value,hints", FIT_ALIASES)
def test_fit_answers_other_libraries_names_with_nnexts(name, value, hints):
    net = Network([3, 4, 1], seed=0)
    msg = raises(TypeError, lambda: net.fit(X, Y_ROW.T, epochs=3, **{name: value}), net)
    assert msg.startswith(f"Network.fit() got an unexpected keyword argument {name!r}: "), msg
    assert_mentions(msg, *hints)


@pytest.mark.parametrize("name,value,hints", [
    ("random_state", 0, ["did you mean seed?"]),
    ("layers", [3, 1], ["did you mean sizes?"]),
    ("hidden_layer_sizes", (4,), ["did you mean sizes?", "Network([n_features, *hidden, n_outputs])"]),
    ("activations", "relu", ["did you mean activation?"]),
    ("kernel_initializer", "he", ["did you mean init?"]),
    ("use_bias", False, ["did you mean bias?"]),
    ("lr", 0.1, ["lr is an argument of Network.fit(), not Network()", "net.fit(X, y, lr=...)"]),
    ("learning_rate", 0.1, ["lr is an argument of Network.fit(), not Network()"]),
    ("epochs", 10, ["epochs is an argument of Network.fit()", "net.fit(X, y, epochs=...)"]),
    ("n_epochs", 10, ["epochs is an argument of Network.fit()"]),
])
def test_network_answers_other_libraries_names_with_nnexts(name, value, hints):
    msg = raises(TypeError, lambda: Network([3, 1], **{name: value}))
    assert msg.startswith(f"Network() got an unexpected keyword argument {name!r}: "), msg
    assert_mentions(msg, *hints)


def test_unknown_keywords_list_the_real_arguments_and_several_are_named_together():
    net = Network([3, 4, 1], seed=0)
    msg = raises(TypeError, lambda: net.fit(X, Y_ROW.T, zzz=1), net)
    assert_mentions(msg, "Network.fit() got an unexpected keyword argument 'zzz'",
                    "X, y, epochs, lr, loss, batch_size")
    msg = raises(TypeError, lambda: net.fit(X, Y_ROW.T, n_epochs=5, bs=2), net)
    assert_mentions(msg, "unexpected keyword arguments", "'n_epochs': did you mean epochs?",
                    "'bs': did you mean batch_size?")


def test_every_alias_names_a_real_argument():
    real = set(inspect.signature(Network).parameters) | set(inspect.signature(Network.fit).parameters)
    for alias, names in _checks.ALIASES.items():
        assert alias not in real, alias
        assert names and set(names) <= real, (alias, names)


def test_signatures_and_positional_calls_are_unchanged():
    init = inspect.signature(Network)
    fit = inspect.signature(Network.fit)
    assert list(init.parameters) == ["sizes", "activation", "bias", "dtype", "init", "seed"]
    assert list(fit.parameters)[:6] == ["self", "X", "y", "epochs", "lr", "loss"]
    for sig in (init, fit):
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())
    text = pydoc.render_doc(Network, renderer=pydoc.plaintext)
    assert "unexpected" not in text
    a = Network([3, 4, 1], "sigmoid", False, "float64", "uniform", 1)
    b = Network([3, 4, 1], bias=False, seed=1)
    ha = a.fit(X, Y_ROW.T, 50, 1.0, "sse")
    hb = b.fit(X, Y_ROW.T, epochs=50, lr=1.0, loss="sse")
    assert ha.loss == hb.loss
    with pytest.raises(TypeError, match="positional"):
        a.fit(X, Y_ROW.T, *([1] * 30))


# ------------------------------------------------- the estimators

@pytest.mark.parametrize("which", ["MLPClassifier", "MLPRegressor"])
def test_estimators_name_themselves_for_extra_arguments(which):
    skl = pytest.importorskip("nnext.sklearn")
    est = getattr(skl, which)(hidden_layer_sizes=(3,), max_iter=2)
    Xd, y, w = np.random.RandomState(0).normal(size=(12, 3)), np.arange(12) % 2, np.ones(12)
    partial = (y, [0, 1]) if which == "MLPClassifier" else (y,)
    calls = {"fit": lambda: est.fit(Xd, y, w, 1),
             "partial_fit": lambda: est.partial_fit(Xd, *partial, w, 1)}
    for what, call in calls.items():
        with pytest.raises(TypeError) as info:
            call()
        msg = str(info.value)
        assert f"{which}.{what}()" in msg and "sample_weight)" in msg and "1 more" in msg, msg
        assert "_BaseMLP" not in "".join(traceback.format_exception(info.value)), what
    assert not hasattr(est, "network_")  # nothing was trained


@pytest.mark.parametrize("which", ["MLPClassifier", "MLPRegressor"])
def test_estimators_bad_calls_never_name_the_private_class(which):
    skl = pytest.importorskip("nnext.sklearn")
    cls = getattr(skl, which)
    est = cls(hidden_layer_sizes=(3,), max_iter=2)
    Xd, y = np.random.RandomState(0).normal(size=(12, 3)), np.arange(12) % 2
    calls = [lambda: cls(not_a_parameter=1), lambda: est.fit(Xd), lambda: est.to_torch(True, 1),
             lambda: est.to_onnx(), lambda: est.fit(Xd, y, max_iter=3),
             lambda: est.fit(Xd, y, zzz=3)]
    for call in calls:
        with pytest.raises(TypeError) as info:
            call()
        text = "".join(traceback.format_exception(info.value))
        assert which in str(info.value) and "_BaseMLP" not in text, text
    msg = raises(TypeError, lambda: est.fit(Xd, y, max_iter=3))
    assert_mentions(msg, f"{which}(max_iter=...)", "set_params(max_iter=...)")


def test_estimators_signatures_stay_scikit_learns():
    skl = pytest.importorskip("nnext.sklearn")
    from sklearn.utils.validation import has_fit_parameter
    for cls in (skl.MLPClassifier, skl.MLPRegressor):
        assert list(inspect.signature(cls.fit).parameters) == ["self", "X", "y", "sample_weight"]
        assert has_fit_parameter(cls(), "sample_weight")
        assert cls.fit.__qualname__ == f"{cls.__name__}.fit"
        assert cls().get_params()["hidden_layer_sizes"] == (100,)
    assert list(inspect.signature(skl.MLPClassifier.partial_fit).parameters) == \
        ["self", "X", "y", "classes", "sample_weight"]


# ---------------------------------------------------- starting points

def test_help_shows_recommended_settings_that_run():
    text = pydoc.render_doc(Network, renderer=pydoc.plaintext)
    assert_mentions(text, "Recommended settings", 'loss="cross_entropy"', 'init="he"', "Adam")
    finder, runner = doctest.DocTestFinder(recurse=False), doctest.DocTestRunner(verbose=False)
    tests = finder.find(Network, "Network", globs={"Network": Network})
    examples = sum(len(t.examples) for t in tests)
    assert examples >= 15
    for t in tests:
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0


def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    X = (d.data - d.data.mean(0)) / (d.data.std(0) + 1e-8)
    return X, np.eye(10)[d.target], d.target


def fit_recording(net, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(*args, **kwargs)
    return history, [w for w in caught if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("settings", [{}, {"loss": "sse", "lr": 1e-5}])
@pytest.mark.parametrize("loop", [False, True])
def test_stuck_tutorial_defaults_on_digits_hint_once(loop, settings):
    """The issue's case: 64-32-10 with Network's defaults on standardised
    digits stays near chance after 200 epochs, and says where to look."""
    Xd, Y, target = digits()
    net = Network([64, 32, 10], seed=0)
    extra = {"callback": lambda e, n, l: None} if loop else {}  # fit's Python loop
    _, hints = fit_recording(net, Xd, Y, epochs=200, **settings, **extra)
    assert (net.predict(Xd).argmax(1) == target).mean() < 0.3
    assert len(hints) == 1, [str(w.message) for w in hints]
    msg = str(hints[0].message)
    assert_mentions(msg, "after 200 epochs", "10-class", "constant output",
                    f"loss={settings.get('loss', 'mse')!r}", "loss='cross_entropy'",
                    "init='he'", "optimizer='adam'",
                    "'Recommended settings' in help(nnext.Network)")
    assert hints[0].filename == __file__  # points at the user's fit call
    _, again = fit_recording(net, Xd, Y, epochs=200, **extra)
    assert again == []  # once per network


def test_recommended_settings_on_digits_learn_and_do_not_hint():
    Xd, Y, target = digits()
    net = Network([64, 32, 10], activation=["relu", "softmax"], init="he", seed=0)
    _, hints = fit_recording(net, Xd, target, epochs=200, lr=0.001, loss="cross_entropy",
                             optimizer="adam", batch_size=32, shuffle=True, seed=0)
    assert (net.predict(Xd).argmax(1) == target).mean() > 0.95
    assert hints == []


def test_no_hint_while_learning_or_too_soon():
    Xd, Y, target = digits()
    net = Network([64, 32, 10], seed=0)  # the defaults, with mini-batches: they learn
    _, hints = fit_recording(net, Xd, Y, epochs=100, batch_size=32)
    assert (net.predict(Xd).argmax(1) == target).mean() > 0.6
    assert hints == []
    stuck = Network([64, 32, 10], seed=0)
    _, hints = fit_recording(stuck, Xd, Y, epochs=99)  # too few epochs to judge
    assert hints == []
    _, hints = fit_recording(stuck, Xd, Y.argmax(1)[:, None] / 9.0 + np.zeros((1, 10)),
                             epochs=150)  # not one-hot classes: no hint
    assert hints == []


@pytest.mark.slow
def test_the_tutorials_never_hint():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = tutorials.run(out=lambda *a: None)
    assert report["agree"]
    assert [w for w in caught if issubclass(w.category, UserWarning)] == []
