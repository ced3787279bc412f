/* Engine.train and the optimizer state the engine owns (see binding.h). */
#include "binding.h"

#include <limits.h>
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

/* The arguments of train, in this order: positional in the fast call, or by
 * keyword (the names below). */
static char *train_kwlist[] = {"data", "loss", "optimizer", "lr", "momentum", "beta1", "beta2",
                               "eps", "batch_size", "shuffle", "rng_state", "n_epochs", "losses",
                               "lrs", "l2", "l1", "reg_per_row", "nesterov", "adam_folded",
                               "loss_by_rows", "loss_scale", "grad_scale", "prob_clip",
                               "orders", NULL};
/* The fast call takes the first TRAIN_NARGS_SHORT arguments, or all TRAIN_NARGS. */
#define TRAIN_NARGS 24
#define TRAIN_NARGS_SHORT 22

static PyObject *train_parsed(EngineObject *self, PyObject *data_obj, nn_train_config cfg,
                              long long batch_size, unsigned long long rng_state,
                              long long n_epochs, PyArrayObject *losses, PyObject *lrs_obj,
                              PyObject *orders_obj);

/* train with keywords: PyArg_ParseTupleAndKeywords (a few microseconds). */
static PyObject *engine_train_keywords(EngineObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *data_obj, *lrs_obj = Py_None, *orders_obj = Py_None;
    PyArrayObject *losses;
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    unsigned long long rng_state;
    long long batch_size, n_epochs;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Oiiddddd" "LpKLO!" "|$OddppppdddO", train_kwlist,
                                     &data_obj, &cfg.loss, &cfg.optimizer, &cfg.lr,
                                     &cfg.momentum, &cfg.beta1, &cfg.beta2, &cfg.eps,
                                     &batch_size, &cfg.shuffle, &rng_state, &n_epochs,
                                     &PyArray_Type, &losses, &lrs_obj, &cfg.l2, &cfg.l1,
                                     &cfg.reg_per_row, &cfg.nesterov, &cfg.adam_folded,
                                     &cfg.loss_by_rows, &cfg.loss_scale, &cfg.grad_scale,
                                     &cfg.prob_clip, &orders_obj))
        return NULL;
    return train_parsed(self, data_obj, cfg, batch_size, rng_state, n_epochs, losses, lrs_obj,
                        orders_obj);
}

/* Converters for the fast call: 0 on success, -1 with an exception set. */
static int arg_int(PyObject *o, int *out)
{
    const long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "train: an int argument is out of range");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int arg_double(PyObject *o, double *out)
{
    *out = PyFloat_AsDouble(o);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

static int arg_bool(PyObject *o, int *out)
{
    *out = PyObject_IsTrue(o);
    return *out < 0 ? -1 : 0;
}

/*
 * train(data, loss, optimizer, lr, momentum, beta1, beta2, eps, batch_size,
 *       shuffle, rng_state, n_epochs, losses, *, lrs=None, l2=0, l1=0, reg_per_row=False,
 *       nesterov=False, adam_folded=False, loss_by_rows=False, loss_scale=0, grad_scale=0,
 *       prob_clip=0, orders=None)
 *       -> (status, epochs_done, bad_epoch, rng_state)
 * (the keyword-only settings are nn_train_config's fields of the same names; lrs
 * is epoch_lr, a float64 array of n_epochs rates; orders is epoch_order, an
 * int64 array of n_epochs * n row indices, each in [0, n))
 * Trains in place with the engine's optimizer state.  status: 0 done, 3 loss
 * non-finite at bad_epoch (parameters and state restored to that epoch's
 * start).  Ctrl-C raises KeyboardInterrupt; however the call ends, the
 * parameters, the optimizer state and its step count describe the same whole
 * number of completed steps.
 * The first 22 arguments, or all 24, given by position, in this order, take the fast call
 * (network.py's train_epochs does): no keyword parsing, which for a tiny
 * network costs more than its epoch.
 */
PyObject *engine_train(EngineObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    if (kwnames || (nargs != TRAIN_NARGS && nargs != TRAIN_NARGS_SHORT)) {
        /* by keyword: through a tuple and a dict */
        PyObject *tuple = PyTuple_New(nargs), *dict = NULL, *result = NULL;
        if (!tuple) return NULL;
        for (Py_ssize_t i = 0; i < nargs; i++) PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
        const Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        if (nk && !(dict = PyDict_New())) goto done;
        for (Py_ssize_t i = 0; i < nk; i++)
            if (PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) goto done;
        result = engine_train_keywords(self, tuple, dict);
    done:
        Py_DECREF(tuple);
        Py_XDECREF(dict);
        return result;
    }
    nn_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    long long batch_size, n_epochs;
    unsigned long long rng_state;
    if (arg_int(args[1], &cfg.loss) < 0 || arg_int(args[2], &cfg.optimizer) < 0 ||
        arg_double(args[3], &cfg.lr) < 0 || arg_double(args[4], &cfg.momentum) < 0 ||
        arg_double(args[5], &cfg.beta1) < 0 || arg_double(args[6], &cfg.beta2) < 0 ||
        arg_double(args[7], &cfg.eps) < 0)
        return NULL;
    if ((batch_size = PyLong_AsLongLong(args[8])) == -1 && PyErr_Occurred()) return NULL;
    if (arg_bool(args[9], &cfg.shuffle) < 0) return NULL;
    if ((rng_state = PyLong_AsUnsignedLongLong(args[10])) == (unsigned long long)-1 &&
        PyErr_Occurred())
        return NULL;
    if ((n_epochs = PyLong_AsLongLong(args[11])) == -1 && PyErr_Occurred()) return NULL;
    if (!PyArray_Check(args[12])) {
        PyErr_SetString(PyExc_TypeError, "train: losses must be a numpy array");
        return NULL;
    }
    if (arg_double(args[14], &cfg.l2) < 0 || arg_double(args[15], &cfg.l1) < 0 ||
        arg_bool(args[16], &cfg.reg_per_row) < 0 || arg_bool(args[17], &cfg.nesterov) < 0 ||
        arg_bool(args[18], &cfg.adam_folded) < 0 || arg_bool(args[19], &cfg.loss_by_rows) < 0 ||
        arg_double(args[20], &cfg.loss_scale) < 0 || arg_double(args[21], &cfg.grad_scale) < 0)
        return NULL;
    if (nargs == TRAIN_NARGS && arg_double(args[22], &cfg.prob_clip) < 0) return NULL;
    return train_parsed(self, args[0], cfg, batch_size, rng_state, n_epochs,
                        (PyArrayObject *)args[12], args[13],
                        nargs == TRAIN_NARGS ? args[23] : Py_None);
}

/* train, its arguments parsed: validated here, then the core's loop. */
static PyObject *train_parsed(EngineObject *self, PyObject *data_obj, nn_train_config cfg,
                              long long batch_size, unsigned long long rng_state,
                              long long n_epochs, PyArrayObject *losses, PyObject *lrs_obj,
                              PyObject *orders_obj)
{
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
    if (check_prob_clip(cfg.prob_clip) < 0) return NULL;
    const npy_intp n = PyArray_DIM(d->X, 0);
    if (orders_obj != Py_None) { /* each epoch's rows: checked here, read in C */
        PyArrayObject *orders = (PyArrayObject *)orders_obj;
        if (!PyArray_Check(orders_obj) || PyArray_TYPE(orders) != NPY_INT64 ||
            !PyArray_IS_C_CONTIGUOUS(orders) || !PyArray_ISALIGNED(orders) ||
            (n_epochs && PyArray_SIZE(orders) / n_epochs < n)) {
            PyErr_Format(PyExc_ValueError, "orders must be an aligned, C-contiguous int64 array "
                         "of n_epochs * n = %lld * %lld row indices", n_epochs, (long long)n);
            return NULL;
        }
        const int64_t *o = PyArray_DATA(orders);
        for (npy_intp i = 0; i < (npy_intp)n_epochs * n; i++)
            if (o[i] < 0 || o[i] >= n) {
                PyErr_Format(PyExc_ValueError, "orders must hold row indices in [0, %lld), "
                             "got %lld", (long long)n, (long long)o[i]);
                return NULL;
            }
        cfg.epoch_order = o;
    }
    const int blocks = nn_optimizer_state_blocks(&cfg);
    if (engine_idle(self) < 0 || engine_prepare_state(self, cfg.optimizer, blocks) < 0) return NULL;
    cfg.batch_size = batch_size;
    cfg.rng_state = rng_state;
    cfg.adam_step = self->adam_step;
    cfg.n_epochs = n_epochs;
    cfg.sample_weight = data_weights(d);
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

/* prob_clip: 0 (exact) or a probability in (0, 0.5); -1 with ValueError. */
int check_prob_clip(double prob_clip)
{
    if (!(prob_clip == 0 || (prob_clip > 0 && prob_clip < 0.5))) {
        PyObject *value = PyFloat_FromDouble(prob_clip);
        if (value) PyErr_Format(PyExc_ValueError, "prob_clip must be 0 or in (0, 0.5), got %R",
                                value);
        Py_XDECREF(value);
        return -1;
    }
    return 0;
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
