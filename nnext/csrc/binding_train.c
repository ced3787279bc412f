/* Engine.train and the optimizer state the engine owns (see binding.h). */
#include "binding.h"

#include <math.h>

/* ------------------------------------------------------------ training */

/* The optimizer state for this optimizer (code, blocks): kept when the engine's
 * state belongs to the same kind, else replaced by zeros (with t = 0). */
static int engine_prepare_state(EngineObject *self, int optimizer, int blocks)
{
    if (self->opt_state && self->opt_optimizer == optimizer && self->opt_blocks == blocks)
        return 0;
    npy_intp size = (npy_intp)blocks * (npy_intp)self->n_params;
    PyArrayObject *state = (PyArrayObject *)PyArray_ZEROS(1, &size, self->typenum, 0);
    if (!state) return -1;
    Py_XSETREF(self->opt_state, state);
    self->opt_optimizer = optimizer;
    self->opt_blocks = blocks;
    self->adam_step = 0;
    return 0;
}

/*
 * train(data, loss, optimizer, lr, momentum, beta1, beta2, eps, batch_size,
 *       shuffle, rng_state, n_epochs, losses, *, lrs=None, l2=0, l1=0, reg_per_row=False,
 *       nesterov=False, adam_folded=False, loss_by_rows=False, loss_scale=0, grad_scale=0)
 *       -> (status, epochs_done, bad_epoch, rng_state)
 * (the keyword-only settings are nn_train_config's fields of the same names; lrs
 * is epoch_lr, a float64 array of n_epochs rates)
 * Trains in place with the engine's optimizer state.  status: 0 done, 3 loss
 * non-finite at bad_epoch (parameters and state restored to that epoch's
 * start).  Ctrl-C raises KeyboardInterrupt; however the call ends, the
 * parameters, the optimizer state and its step count describe the same whole
 * number of completed steps.
 */
PyObject *engine_train(EngineObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "loss", "optimizer", "lr", "momentum", "beta1", "beta2",
                             "eps", "batch_size", "shuffle", "rng_state", "n_epochs", "losses",
                             "lrs", "l2", "l1", "reg_per_row", "nesterov", "adam_folded",
                             "loss_by_rows", "loss_scale", "grad_scale", NULL};
    PyObject *data_obj, *lrs_obj = Py_None;
    PyArrayObject *losses;
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    unsigned long long rng_state;
    long long batch_size, n_epochs;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oiiddddd" "LpKLO!" "|$Oddppppdd", kwlist,
                                     &data_obj, &cfg.loss, &cfg.optimizer, &cfg.lr,
                                     &cfg.momentum, &cfg.beta1, &cfg.beta2, &cfg.eps,
                                     &batch_size, &cfg.shuffle, &rng_state, &n_epochs,
                                     &PyArray_Type, &losses, &lrs_obj, &cfg.l2, &cfg.l1,
                                     &cfg.reg_per_row, &cfg.nesterov, &cfg.adam_folded,
                                     &cfg.loss_by_rows, &cfg.loss_scale, &cfg.grad_scale))
        return NULL;
    DataObject *d;
    if (engine_ready(self) < 0 || check_loss_code(cfg.loss) < 0 || !(d = as_data(self, data_obj)))
        return NULL;
    if (cfg.optimizer < 0 || cfg.optimizer >= NN_N_OPTIMIZERS || batch_size < 1 || n_epochs < 0) {
        PyErr_SetString(PyExc_ValueError, "invalid optimizer code, batch_size or n_epochs");
        return NULL;
    }
    if (!(cfg.l2 >= 0 && cfg.l1 >= 0 && isfinite(cfg.l2) && isfinite(cfg.l1) &&
          isfinite(cfg.loss_scale) && isfinite(cfg.grad_scale))) {
        PyErr_SetString(PyExc_ValueError, "l2 and l1 must be finite and >= 0, loss_scale and "
                                          "grad_scale finite");
        return NULL;
    }
    if (PyArray_TYPE(losses) != NPY_DOUBLE || !PyArray_IS_C_CONTIGUOUS(losses) ||
        !PyArray_ISWRITEABLE(losses) || PyArray_SIZE(losses) < n_epochs) {
        PyErr_SetString(PyExc_ValueError, "losses must be a writeable float64 array of "
                                          "n_epochs elements");
        return NULL;
    }
    if (lrs_obj != Py_None) { /* the epochs' learning rates: checked here, read in C */
        PyArrayObject *lrs = (PyArrayObject *)lrs_obj;
        if (!PyArray_Check(lrs_obj) || PyArray_TYPE(lrs) != NPY_DOUBLE ||
            !PyArray_IS_C_CONTIGUOUS(lrs) || !PyArray_ISALIGNED(lrs) ||
            PyArray_SIZE(lrs) < n_epochs || !all_finite(lrs)) {
            PyErr_SetString(PyExc_ValueError, "lrs must be a float64 array of n_epochs "
                                              "finite rates");
            return NULL;
        }
        cfg.epoch_lr = PyArray_DATA(lrs);
        for (long long e = 0; e < n_epochs; e++)
            if (cfg.epoch_lr[e] < 0) {
                PyErr_SetString(PyExc_ValueError, "lrs must be >= 0");
                return NULL;
            }
    }
    const int blocks = nn_optimizer_state_blocks(&cfg);
    if (engine_idle(self) < 0 || engine_prepare_state(self, cfg.optimizer, blocks) < 0) return NULL;
    cfg.batch_size = batch_size;
    cfg.rng_state = rng_state;
    cfg.adam_step = self->adam_step;
    cfg.n_epochs = n_epochs;
    const npy_intp n = PyArray_DIM(d->X, 0);
    core_call call;
    if (core_begin(self, 3 * work_of(self, n) * (double)n_epochs, &call) < 0) return NULL;
    if (call.ts) { /* the poll needs the GIL released */
        cfg.poll = poll_signals;
        cfg.poll_ctx = &call;
    }
    nn_train_result result;
    const nn_status status =
        self->ops->train(&self->net, params_data(self), PyArray_DATA(self->opt_state),
                         PyArray_DATA(d->X), PyArray_DATA(d->Y), n, &cfg, PyArray_DATA(losses),
                         &result);
    core_end(self, &call); /* (nn_train reports an interrupt in its status) */
    self->adam_step = cfg.adam_step; /* in step with opt_state, however the call ended */
    switch (status) {
    case NN_OK:
    case NN_ERR_NONFINITE:
        return Py_BuildValue("iLLK", (int)status, (long long)result.epochs_done,
                             (long long)result.bad_epoch, (unsigned long long)cfg.rng_state);
    case NN_ERR_NOMEM:
        return PyErr_NoMemory();
    case NN_ERR_INTERRUPTED:
        if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    default:
        PyErr_SetString(PyExc_ValueError, "invalid training arguments");
        return NULL;
    }
}

/* optimizer_state() -> None, or (optimizer code, blocks, state copy, adam_step). */
PyObject *engine_optimizer_state(EngineObject *self, PyObject *Py_UNUSED(ignored))
{
    if (engine_ready(self) < 0) return NULL;
    if (!self->opt_state) Py_RETURN_NONE;
    PyObject *copy = PyArray_NewCopy(self->opt_state, NPY_CORDER);
    if (!copy) return NULL;
    PyObject *t = Py_BuildValue("iiOL", self->opt_optimizer, self->opt_blocks, copy,
                                (long long)self->adam_step);
    Py_DECREF(copy);
    return t;
}

/* set_optimizer_state(None) forgets the state; set_optimizer_state((optimizer,
 * blocks, state, adam_step)) copies it in (as returned by optimizer_state). */
PyObject *engine_set_optimizer_state(EngineObject *self, PyObject *arg)
{
    if (engine_ready(self) < 0 || engine_idle(self) < 0) return NULL;
    if (arg == Py_None) {
        Py_CLEAR(self->opt_state);
        self->adam_step = 0;
        Py_RETURN_NONE;
    }
    int optimizer, blocks;
    PyObject *state_obj;
    long long step;
    /* (PyArg_ParseTuple takes a tuple only: anything else, e.g. a list from an
     * unpickled state, would be a SystemError; an int out of range an OverflowError) */
    if (!PyTuple_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "optimizer state must be None or a tuple (optimizer, "
                     "blocks, state, adam_step), got %.80s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (!PyArg_ParseTuple(arg, "iiOL", &optimizer, &blocks, &state_obj, &step)) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "optimizer state: invalid optimizer, blocks or step");
        }
        return NULL;
    }
    if (optimizer < 0 || optimizer >= NN_N_OPTIMIZERS || blocks < 0 || blocks > 2 || step < 0) {
        PyErr_SetString(PyExc_ValueError, "optimizer state: invalid optimizer, blocks or step");
        return NULL;
    }
    PyArray_Descr *descr = PyArray_DescrFromType(self->typenum);
    if (!descr) return NULL;
    PyArrayObject *state = (PyArrayObject *)PyArray_FromAny(
        state_obj, descr, 1, 1, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_ENSURECOPY,
        NULL);
    if (!state) return NULL;
    if (PyArray_SIZE(state) != (npy_intp)blocks * self->n_params || !all_finite(state)) {
        PyErr_Format(PyExc_ValueError, "optimizer state must be %lld finite values",
                     (long long)blocks * (long long)self->n_params);
        Py_DECREF(state);
        return NULL;
    }
    Py_XSETREF(self->opt_state, state);
    self->opt_optimizer = optimizer;
    self->opt_blocks = blocks;
    self->adam_step = step;
    Py_RETURN_NONE;
}
