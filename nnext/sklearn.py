"""scikit-learn's `MLPClassifier` and `MLPRegressor`, trained by nnext's C core.

``from nnext.sklearn import MLPClassifier, MLPRegressor``: the same constructor
parameters (plus ``dtype``), fitted attributes and methods as scikit-learn's
estimators, and the same mathematics, so that from the same random_state
(or the same starting ``coefs_``/``intercepts_``) both end at the same
numbers, shuffled or not (tests/test_sklearn_parity.py,
tests/test_sklearn_drop_in.py).  Each epoch is one call into the C training
loop, over scikit-learn's row order (its permutation of each epoch, drawn
from random_state as it draws it); what scikit-learn does between epochs
(its stopping rule, the 'invscaling' and 'adaptive' rates, early stopping on
a validation split) is done here, in its order.  solver='lbfgs' is scipy's
L-BFGS-B over the flat parameter block, each evaluation one core call
(Engine.objective).  scikit-learn (and, for L-BFGS, scipy) is needed only by
this module.

The loss of a batch of b rows, scikit-learn's, is the core's loss with
nn_train_config's scales: log-loss is "cross_entropy" (softmax output) or
"bce" times k outputs (sigmoid output: binary and multilabel); the
regressor's half squared error 0.5 * mean((y - p)**2) is "mse" times 0.5,
whose gradient scikit-learn takes per row summed over the k outputs (times
k/2).  Its L2 term alpha/2 * sum(W**2) / b is l2 = alpha with reg_per_row;
epoch losses are weighted by the batches' rows; Adam takes the bias
correction in its step size (adam_folded).  Log-loss values are computed from
probabilities clipped to [eps, 1 - eps] as scikit-learn's are (prob_clip), so
that loss_, loss_curve_ and the stopping rule agree on saturated outputs;
nnext.Network's own "bce" and "cross_entropy" stay exact (from z).
"""

import numbers
import types
import warnings
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as _SkMLPClassifier
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
    from sklearn.utils.validation import (_check_sample_weight, check_is_fitted, column_or_1d,
                                          validate_data)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(f"nnext.sklearn needs scikit-learn 1.6 or later ({exc}): "
                      "pip install 'scikit-learn>=1.6'") from exc

from . import _checks, _core
from ._checks import OPTIMIZERS, signature_without_unexpected
from .network import Network

__all__ = ["MLPClassifier", "MLPRegressor"]

_NONFINITE = 3  # nnext_core.h's NN_ERR_NONFINITE, as Network.fit reads it
# scikit-learn's activation names -> nnext's
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# scikit-learn's output activations -> the network's output layer: for 'exp'
# (loss='poisson') the network computes the log-rate, nnext's "poisson" loss
# takes exp of it, and predict applies exp
_OUTPUTS = {"identity": "linear", "logistic": "sigmoid", "softmax": "softmax", "exp": "linear"}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share (scikit-learn's
    BaseMultilayerPerceptron)."""

    _parameter_constraints = {
        **_SkMLPClassifier._parameter_constraints,
        "dtype": [StrOptions({"float64", "float32"}), None],
    }

    def __init_subclass__(cls, **kwargs):
        # Python's message for a call with wrong arguments names the method by
        # its __qualname__: each estimator gets its own copy of the methods
        # defined here, under its own name, so that no message names this
        # private class ("_BaseMLP.fit() missing 1 required positional ...").
        for name in _SHARED_METHODS:
            method = getattr(cls, name)
            if name not in cls.__dict__ and isinstance(method, types.FunctionType):
                setattr(cls, name, _renamed(method, f"{cls.__name__}.{name}"))
        super().__init_subclass__(**kwargs)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # ------------------------------------------------ parameters as views

    def _network(self):
        try:
            return self.__dict__["network_"]
        except KeyError:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet") from None

    # Before any fit, scikit-learn's estimators take coefs_ and intercepts_ as
    # plain lists, which a partial_fit (or a warm-started fit) then trains from
    # (its own test_fit does so): kept as given until that fit builds network_.
    _UNFITTED = {"coefs_": "_unfitted_coefs", "intercepts_": "_unfitted_intercepts"}

    def _assigned(self, name):
        try:
            return self.__dict__[self._UNFITTED[name]]
        except KeyError:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet") from None

    @property
    def coefs_(self):
        """The weight matrices, (n_in, n_out) per layer: views of `network_`'s
        parameters.  Assigning a list copies it in (shapes must match)."""
        net = self.__dict__.get("network_")
        return self._assigned("coefs_") if net is None else net.weights

    @coefs_.setter
    def coefs_(self, values):
        net = self.__dict__.get("network_")
        if net is None:
            self.__dict__[self._UNFITTED["coefs_"]] = values
        else:
            net.weights = values

    @property
    def intercepts_(self):
        """The bias vectors per layer (views, like `coefs_`)."""
        net = self.__dict__.get("network_")
        return self._assigned("intercepts_") if net is None else net.biases

    @intercepts_.setter
    def intercepts_(self, values):
        net = self.__dict__.get("network_")
        if net is None:
            self.__dict__[self._UNFITTED["intercepts_"]] = values
        else:
            net.biases = values

    # ------------------------------------------------------------ fitting

    @signature_without_unexpected
    def fit(self, X: Any, y: Any, sample_weight: Any = None, *unsupported: Any,
            **unsupported_kw: Any) -> "Any":
        """Fit the model to X and y (class labels or real targets), each row's
        loss weighted by ``sample_weight`` (as scikit-learn's); returns self."""
        if unsupported or unsupported_kw:
            raise _unsupported(self, "fit", unsupported, unsupported_kw)
        self._validate_params()
        with _unchanged_on_error(self):
            return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(self, X, y, incremental, sample_weight=None):
        self._check_finite_params()
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if any(not isinstance(h, numbers.Integral) or h <= 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        for i, h in enumerate(hidden):  # (before any arithmetic on them: 10**400 is an Integral)
            _checks.integer(h, f"hidden_layer_sizes[{i}] (a hidden layer's width)", 1, _core.MAX_WIDTH)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        if hasattr(X, "toarray"):  # sparse input: nnext trains on dense rows
            X = X.toarray()
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        sizes = [X.shape[1]] + [int(h) for h in hidden] + [y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, sizes, X.dtype)
        elif "network_" not in self.__dict__:  # coefs_ and intercepts_ assigned before any fit
            self._initialize(y, sizes, X.dtype, assigned=True)
        elif self.network_.sizes != sizes:
            raise ValueError(f"warm_start/partial_fit with layer sizes {sizes}, but the fitted "
                             f"network has {self.network_.sizes}")
        else:
            self._warm_network()
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, y, sample_weight)
        else:
            self._fit_stochastic(X, y, incremental, sample_weight)
        return self

    def _check_finite_params(self):
        """The real-valued parameters as floats: scikit-learn's constraints take
        any Real, and an int beyond float's range (learning_rate_init=10**400)
        would otherwise fail later, as an OverflowError naming nothing."""
        for name in ("alpha", "learning_rate_init", "power_t", "tol", "momentum",
                     "validation_fraction", "beta_1", "beta_2", "epsilon"):
            _checks.real(getattr(self, name), name)

    def _warm_network(self):
        """warm_start and partial_fit train the fitted network on, with the
        activation and dtype set since (set_params), as scikit-learn's forward
        pass reads its activation: the network is rebuilt with them from the
        same parameters and optimizer state (converted to the new dtype)."""
        net = self.network_
        hidden = _ACTIVATIONS[self.activation]
        dtype = net.dtype.name if self.dtype is None else np.dtype(self.dtype).name
        if all(a == hidden for a in net.activations[:-1]) and net.dtype.name == dtype:
            return
        state = net.__getstate__()
        state["activations"] = [hidden] * (len(net.sizes) - 2) + [net.activations[-1]]
        state.pop("activation_params", None)
        state["dtype"] = dtype
        if state["opt"] is not None:
            optimizer, blocks, values, step = state["opt"]
            state["opt"] = (optimizer, blocks, values.astype(dtype), step)
        self.network_ = Network._restore(state)

    def _initialize(self, y, sizes, x_dtype, assigned=False):
        """scikit-learn's first pass: attributes, and Glorot-uniform weights and
        biases drawn from random_state in its order (so the same random_state
        starts both estimators at the same coefs_), in X's dtype unless
        ``dtype`` says otherwise.  assigned: from the coefs_ and intercepts_
        assigned before any fit instead, keeping the fitted attributes that
        were assigned too (as scikit-learn, which then reads them)."""
        if assigned:
            weights, biases = (self.__dict__.get(self._UNFITTED[name])
                               for name in ("coefs_", "intercepts_"))
            if weights is None or biases is None:
                raise ValueError("coefs_ and intercepts_ must both be assigned before training "
                                 "from them")
            kept = {name: self.__dict__[name] for name in
                    ("n_iter_", "t_", "loss_curve_", "best_loss_", "_no_improvement_count",
                     "validation_scores_", "best_validation_score_") if name in self.__dict__}
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(sizes)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        if not assigned:
            for name in self._UNFITTED.values():
                self.__dict__.pop(name, None)
            factor = 2.0 if self.activation == "logistic" else 6.0
            weights, biases = [], []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                bound = np.sqrt(factor / (fan_in + fan_out))
                weights.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)))
                biases.append(self._random_state.uniform(-bound, bound, fan_out))
        out = _OUTPUTS[self.out_activation_]
        acts = [_ACTIVATIONS[self.activation]] * (len(sizes) - 2) + [out]
        dtype = np.dtype(x_dtype).name if self.dtype is None else self.dtype
        network = Network.from_weights(weights, biases, activation=acts, dtype=dtype)
        if network.sizes != sizes:
            raise ValueError(f"the assigned coefs_ give layer sizes {network.sizes}, but X and y "
                             f"need {sizes}")
        for name in self._UNFITTED.values():
            self.__dict__.pop(name, None)
        self.network_ = network
        self._best = None
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            self.__dict__.pop(name, None)
        if self.solver == "lbfgs":  # scikit-learn keeps these for its stochastic solvers only
            if assigned:
                self.__dict__.update(kept)
            return
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        if assigned:
            self.__dict__.update(kept)

    def _core_loss(self):
        """(nnext loss, loss_scale, grad_scale, prob_clip) giving scikit-learn's
        loss: its log-loss clips the probabilities to [eps, 1 - eps], eps the
        dtype's machine epsilon (the value only; the gradient is exact)."""
        k = self.n_outputs_
        if not is_classifier(self):
            if self.out_activation_ == "exp":  # half the Poisson deviance, summed over outputs
                return "poisson", float(k), float(k), 0.0
            return "mse", 0.5, 0.5 * k, 0.0
        eps = float(np.finfo(self.network_.dtype).eps)
        if self.out_activation_ == "softmax":
            return "cross_entropy", 1.0, 1.0, eps
        return "bce", float(k), float(k), eps

    def _fit_lbfgs(self, X, y, sample_weight):
        """scikit-learn's _fit_lbfgs: scipy's L-BFGS-B over the parameters as one
        flat vector (nnext's block, W0, b0, W1, b1, ...), from the current ones,
        minimising the loss plus alpha/2 sum(W**2) / n, n the weights' sum with
        sample_weight (nnext._lbfgs: one core call per evaluation)."""
        from sklearn.utils.optimize import _check_optimize_result

        from . import _lbfgs

        net = self.network_
        loss, loss_scale, grad_scale, clip = self._core_loss()
        code, data = net.prepare(X, y, loss, sample_weight=sample_weight)
        result = _lbfgs.minimize(
            net, data, code, loss_scale=loss_scale, grad_scale=grad_scale, l2=float(self.alpha),
            reg_per_row=True, prob_clip=clip, max_iter=self.max_iter, max_fun=self.max_fun,
            gtol=self.tol, iprint=1 if self.verbose is True or self.verbose >= 1 else -1)
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        if not np.isfinite(result.x).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        with net._writing():
            net._params[...] = result.x

    def _fit_stochastic(self, X, y, incremental, sample_weight):
        net, sgd = self.network_, self.solver == "sgd"
        if not incremental or not hasattr(self, "_lr"):  # a new optimizer, as scikit-learn's
            net.reset_optimizer()
            self._lr = float(self.learning_rate_init)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_val = y_val = sw_val = None
        if self.early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, y, y_val = split[:4]
            if sample_weight is not None:
                sample_weight, sw_val = split[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped")
            batch = int(np.clip(self.batch_size, 1, n))
        loss, loss_scale, grad_scale, clip = self._core_loss()
        code, data = net.prepare(X, y, loss, sample_weight=sample_weight)
        settings = dict(loss=code, optimizer=OPTIMIZERS[self.solver], batch_size=batch,
                        momentum=float(self.momentum) if sgd else 0.0,
                        beta1=float(self.beta_1), beta2=float(self.beta_2),
                        eps=float(self.epsilon), shuffle=False,
                        l2=float(self.alpha), reg_per_row=True, nesterov=sgd and
                        bool(self.nesterovs_momentum), adam_folded=True, loss_by_rows=True,
                        loss_scale=loss_scale, grad_scale=grad_scale, prob_clip=clip)
        # scikit-learn's row order: each epoch permutes the last one's, drawn
        # from random_state as its _fit_stochastic draws it (sklearn.utils.shuffle
        # is resample(replace=False): random_state.shuffle(np.arange(n)), then
        # indexing; done here directly, as its argument checks cost more than
        # a small epoch)
        order = np.arange(n, dtype=np.int64) if self.shuffle else None
        permutation = np.empty(n, dtype=np.intp) if self.shuffle else None
        losses = np.empty(1)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if order is not None:
                    permutation[...] = np.arange(n)
                    self._random_state.shuffle(permutation)
                    order = order[permutation]
                lr = self._lr if sgd else float(self.learning_rate_init)
                status, _, _ = net.train_epochs(data, 0, losses, lr=lr, orders=order, **settings)
                if status == _NONFINITE:
                    if not self.early_stopping:
                        raise ValueError("Solver produced non-finite parameter weights. The "
                                         "input data may contain large values and need to be "
                                         "preprocessed.")
                    self._diverged(n)
                    break
                self.n_iter_ += 1
                self.loss_ = float(losses[0])
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(X_val, y_val, sw_val)
                if sgd and self.learning_rate == "invscaling":
                    self._lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._stop():
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                                  "optimization hasn't converged yet." % self.max_iter,
                                  ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if self.early_stopping and self._best is not None:  # the best validation score's weights
            self.network_._rollback(self._best)  # (and optimizer state)

    def _diverged(self, n):
        """Early stopping met a non-finite loss: scikit-learn trains on with
        non-finite weights, each remaining epoch's validation score NaN (which
        resets the no-improvement count: NaN compares false), up to max_iter,
        then restores the best weights.  The same record, without computing
        on NaN: the core has kept the last finite weights, which the best
        ones then replace."""
        for _ in range(self.n_iter_, self.max_iter):
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = np.nan
            self.loss_curve_.append(np.nan)
            self.validation_scores_.append(np.nan)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                print("Validation score: %f" % np.nan)
            self._no_improvement_count = 0
        warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                      "optimization hasn't converged yet." % self.max_iter, ConvergenceWarning)

    @property
    def _optimizer(self):
        """The learning rate the stochastic solver would use next, as
        scikit-learn's ``_optimizer.learning_rate`` reads (tests use it)."""
        if self.solver == "lbfgs" or "_lr" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no stochastic optimizer yet")
        return types.SimpleNamespace(
            learning_rate=self._lr if self.solver == "sgd" else float(self.learning_rate_init))

    def _check_solver(self):
        """partial_fit exists for the stochastic solvers only (scikit-learn's
        available_if): for 'lbfgs', hasattr(est, 'partial_fit') is False."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _loss_grad_lbfgs(self, packed, X, y, sample_weight=None, *buffers):
        """scikit-learn's private L-BFGS objective, (loss, gradient) at the
        parameters ``packed`` in its layout (all coefs_, then all intercepts_),
        from the same core call as `_fit_lbfgs`; the network is left as it was.
        ``buffers`` (scikit-learn's scratch lists) are not needed."""
        net = self.network_
        loss, loss_scale, grad_scale, clip = self._core_loss()
        code, data = net.prepare(X, y, loss, sample_weight=sample_weight)
        order = np.concatenate([w.ravel() for w in net._views(np.arange(net.n_params))[0]]
                               + net._views(np.arange(net.n_params))[1])
        point = np.empty(net.n_params, dtype=net.dtype)
        point[order] = packed
        grads = np.empty_like(point)
        value = net._engine.objective(data, code, loss_scale, grad_scale, float(self.alpha), 0.0,
                                      True, clip, point, grads)
        return value, grads[order].astype(np.float64)

    def _stop(self):
        """scikit-learn's trigger_stopping: True to stop; 'adaptive' sgd divides
        the rate by 5 instead, until it is 1e-6 or less."""
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._lr /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._lr)
        return False

    def _update_no_improvement_count(self, X_val, y_val, sw_val=None):
        if self.early_stopping:
            score = self._score(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                # the optimizer state too, so that training on from the best epoch
                # takes the steps training that many epochs from the start takes
                self._best = self.network_._checkpoint()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _score(self, X, y, sample_weight=None):
        pred = self._predict(X, check_input=False)
        if np.issubdtype(pred.dtype, np.floating) and not np.isfinite(pred).all():
            return np.nan
        return (accuracy_score if is_classifier(self) else r2_score)(y, pred,
                                                                      sample_weight=sample_weight)

    # ---------------------------------------------------------- inference

    def _forward(self, X, check_input=True):
        if check_input:
            check_is_fitted(self)
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=(np.float64, np.float32))
            if hasattr(X, "toarray"):
                X = X.toarray()
        out = self.network_.predict(X)
        return np.exp(out, out=out) if self.out_activation_ == "exp" else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # accepted, and made dense
        return tags

    # ------------------------------------------------ ways out (nnext/export.py)

    def to_torch(self, logits: bool = False) -> Any:
        """The fitted network as a ``torch.nn.Sequential`` (`nnext.Network.to_torch`):
        it computes the output layer, ``out_activation_`` included (for a
        classifier, the probabilities `predict_proba` is made of).  With
        ``logits=True`` the output activation is left out, for fine-tuning with
        PyTorch's fused losses (softmax: ``nn.CrossEntropyLoss``, logistic:
        ``nn.BCEWithLogitsLoss``)."""
        check_is_fitted(self)
        self._check_exportable()
        return self.network_.to_torch(logits=logits)

    def to_onnx(self, path: Any, input_dtype: Any = None) -> str:
        """Write the fitted network's forward pass as an ONNX model
        (`nnext.Network.to_onnx`); returns the path.  Its input has the
        network's dtype (``coefs_[0].dtype``) unless ``input_dtype`` says
        otherwise (cast to the network's dtype inside the graph)."""
        check_is_fitted(self)
        self._check_exportable()
        return self.network_.to_onnx(path, input_dtype=input_dtype)

    def _check_exportable(self):
        if self.out_activation_ == "exp":
            raise ValueError("loss='poisson': the network computes the log of the predicted "
                             "rate (predict applies exp), which the export would leave out; "
                             "export network_ and apply exp to its output yourself")


#: The public methods _BaseMLP defines, which each estimator class gets as its own.
_SHARED_METHODS = ("__init__", "fit", "to_torch", "to_onnx")


class _unchanged_on_error:
    """fit and partial_fit, all or nothing: a call that raises (bad data, a
    MemoryError for a huge hidden_layer_sizes, Ctrl-C while it validates or
    builds) leaves the estimator as it was: its attributes (classes_ and
    network_ together), and the parameters and optimizer state of the
    network it had.  (Ctrl-C in the training loop stops it with a warning, as
    scikit-learn's does, and keeps what was trained.)"""

    def __init__(self, est):
        self.est = est

    def __enter__(self):
        d = self.est.__dict__
        self.saved = {k: (list(v) if type(v) is list else v) for k, v in d.items()}
        self.net = d.get("network_")
        self.checkpoint = None if self.net is None else self.net._checkpoint()

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            d = self.est.__dict__
            d.clear()
            d.update(self.saved)
            if self.net is not None:
                self.net._rollback(self.checkpoint)
        return False


def _renamed(func, qualname):
    """A copy of function `func` under `qualname` (the same code, defaults,
    documentation and signature)."""
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__,
                              func.__closure__)
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__dict__.update(func.__dict__)
    copy.__doc__, copy.__module__ = func.__doc__, func.__module__
    copy.__annotations__ = dict(func.__annotations__)
    copy.__qualname__ = qualname
    return copy


def _unsupported(est, method, args, kwargs):
    """The TypeError for arguments that `method` of estimator `est` does not
    take."""
    name = type(est).__name__
    where = f"{name}.{method}()"
    takes = (f"{method}(X, y, classes, sample_weight)" if method == "partial_fit" and
             is_classifier(est) else f"{method}(X, y, sample_weight)")
    if args:
        return TypeError(f"{where} takes {takes}, got {len(args)} more positional argument"
                         f"{'s' if len(args) > 1 else ''}")
    params = [k for k in kwargs if k in est.get_params(deep=False)]
    if params:
        hint = (f"{params[0]} is a parameter of the estimator: {name}({params[0]}=...) or "
                f"est.set_params({params[0]}=...)")
    else:
        hint = f"it takes {takes}"
    return TypeError(f"{where} got unexpected keyword argument{'s' if len(kwargs) > 1 else ''} "
                     f"{', '.join(repr(k) for k in kwargs)}: {hint}")


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier (log-loss; lbfgs, sgd or adam) on nnext's C core.

    Parameters, attributes and methods are scikit-learn's (see its
    documentation), plus ``dtype`` (None: X's dtype, as scikit-learn;
    'float64' or 'float32': the network's arithmetic whatever X's) and
    ``network_``, the trained `nnext.Network`; ``coefs_`` and
    ``intercepts_`` are views of its parameters.  Labels of any type; binary,
    multiclass and multilabel (indicator matrix) targets.
    """

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes "
                                     f"as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    @available_if(lambda est: est._check_solver())
    @signature_without_unexpected
    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None,
                    *unsupported: Any, **unsupported_kw: Any) -> Any:
        """One epoch over (X, y), the rows weighted by ``sample_weight``;
        ``classes`` (all the labels)
        is required on the first call, for every kind of y: for a multilabel
        indicator matrix of k columns, ``classes=np.arange(k)``.  Returns self."""
        if unsupported or unsupported_kw:
            raise _unsupported(self, "partial_fit", unsupported, unsupported_kw)
        self._validate_params()
        with _unchanged_on_error(self):
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _predict(self, X, check_input=True):
        p = self._forward(X, check_input)
        if self.n_outputs_ == 1:
            p = p.ravel()
        return self._label_binarizer.inverse_transform(p)

    def predict(self, X: Any) -> Any:
        """The predicted labels (an indicator matrix for multilabel targets)."""
        return self._predict(X)

    def predict_proba(self, X: Any) -> Any:
        """Probabilities, one column per class in the order of ``classes_``."""
        p = self._forward(X)
        if self.n_outputs_ == 1:
            p = p.ravel()
        return np.vstack([1 - p, p]).T if p.ndim == 1 else p

    def predict_log_proba(self, X: Any) -> Any:
        """The logarithm of `predict_proba`."""
        p = self.predict_proba(X)
        return np.log(p, out=p)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor (half squared error or, with loss='poisson',
    half the Poisson deviance of an exponential output; lbfgs, sgd or adam) on
    nnext's C core; see `MLPClassifier`.  Multi-output targets."""

    _parameter_constraints = {**_BaseMLP._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None) -> None:
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, dtype=dtype)
        self.loss = loss

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    @available_if(lambda est: est._check_solver())
    @signature_without_unexpected
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, *unsupported: Any,
                    **unsupported_kw: Any) -> Any:
        """One epoch over (X, y), the rows weighted by ``sample_weight``;
        returns self."""
        if unsupported or unsupported_kw:
            raise _unsupported(self, "partial_fit", unsupported, unsupported_kw)
        self._validate_params()
        with _unchanged_on_error(self):
            return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _predict(self, X, check_input=True):
        p = self._forward(X, check_input)
        return p.ravel() if p.shape[1] == 1 else p

    def predict(self, X: Any) -> Any:
        """The predicted values, (n,) for one output, else (n, n_outputs)."""
        return self._predict(X)
