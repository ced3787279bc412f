"""L-BFGS training: scipy's L-BFGS-B over a network's parameter block as one
flat vector, each evaluation of the objective and its gradient over all rows
one call into the core (Engine.objective) into one preallocated buffer.
Used by `Network.fit(optimizer="lbfgs")` and nnext.sklearn's
solver='lbfgs'; scipy is imported here only."""

import numpy as np
import scipy
import scipy.optimize

# scipy 1.15 deprecated L-BFGS-B's iprint (scikit-learn passes it to older ones only)
_IPRINT = tuple(int(p) for p in scipy.__version__.split(".")[:2]) < (1, 15)


def minimize(net, data, code, *, loss_scale=1.0, grad_scale=1.0, l2=0.0, l1=0.0,
             reg_per_row=False, prob_clip=0.0, max_iter, max_fun, gtol, iprint=-1,
             callback=None):
    """L-BFGS-B from the network's parameters on `data` (Network.prepare's,
    loss `code`), minimising what one full-batch step of the training loop
    minimises with these settings (nn_train_config's fields of the same
    names).  The network's parameters are not written: the caller takes
    ``result.x``.  callback(x, value) after each iteration may raise
    StopIteration to stop.  Returns scipy's OptimizeResult."""
    engine, lock = net._engine, net._lock

    def objective(*args):  # the lock per call: a callback runs without it, as fit's do
        with lock:
            return engine.objective(*args)
    settings = (float(loss_scale), float(grad_scale), float(l2), float(l1), bool(reg_per_row),
                float(prob_clip))
    grads = np.empty(net.n_params, dtype=net.dtype)
    if net.dtype == np.float64:
        def value_and_gradient(x):
            # scipy hands each call its own copy of x (float64, contiguous), and
            # reads the gradient before it asks for the next point: both are used
            # in place
            return objective(data, code, *settings, x, grads), grads
    else:
        point, grads64 = np.empty(net.n_params, dtype=net.dtype), np.empty(net.n_params)

        def value_and_gradient(x):
            np.copyto(point, x, casting="same_kind")
            value = objective(data, code, *settings, point, grads)
            np.copyto(grads64, grads)
            return value, grads64
    wrapped = None
    if callback is not None:
        def wrapped(intermediate_result):
            callback(intermediate_result.x, float(intermediate_result.fun))
    options = {"maxfun": max_fun, "maxiter": max_iter, "gtol": gtol}
    if _IPRINT:
        options["iprint"] = iprint
    with net._lock:
        x0 = net._params.astype(np.float64)
    return scipy.optimize.minimize(value_and_gradient, x0, method="L-BFGS-B", jac=True,
                                   options=options, callback=wrapped)
