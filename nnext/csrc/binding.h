/*
 * The binding's shared declarations (nnext._core): the Engine and Data
 * objects, the module state, and the functions its files share.  The files:
 *   binding.c         the module: constants, functions, multi-phase init
 *   binding_arrays.c  converting and validating arrays, once
 *   binding_calls.c   Engine's calls into the core: the GIL rule, Ctrl-C,
 *                     workspaces; data, predict, forward, loss, gradients, trace
 *   binding_train.c   Engine.train and the optimizer state the engine owns
 *   binding_types.c   the Engine and Data types
 */
#ifndef NNEXT_BINDING_H
#define NNEXT_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define PY_ARRAY_UNIQUE_SYMBOL nnext_ARRAY_API
#ifndef NNEXT_BINDING_MODULE
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "nnext_core.h"


/* Below this many multiply-adds a call keeps the GIL: releasing costs more. */
#define GIL_RELEASE_WORK 20000
/* predict and loss run in chunks of this many rows through a cached workspace;
 * a call that needs a workspace for more rows (gradients) makes its own. */
#define CHUNK_ROWS 256

typedef struct {
    PyObject *engine_type;
    PyObject *data_type;
} module_state;

typedef struct {
    PyObject_HEAD
    nn_net net;
    int64_t sizes[NN_MAX_LAYERS + 1];
    int activations[NN_MAX_LAYERS];
    double act_params[NN_MAX_LAYERS]; /* each layer's activation parameter (net.act_params) */
    int typenum;               /* NPY_DOUBLE or NPY_FLOAT                         */
    const nn_ops *ops;         /* the core's functions for that type              */
    int64_t n_params;
    PyArrayObject *params;     /* (n_params,) the network's own parameters        */
    PyArrayObject *opt_state;  /* (blocks * n_params,) or NULL: optimizer state   */
    int opt_optimizer;         /* the optimizer code the state belongs to         */
    int opt_blocks;            /* nn_optimizer_state_blocks of that optimizer     */
    int64_t adam_step;         /* Adam's t: updates applied to opt_state          */
    nn_workspace *ws;          /* cached CHUNK_ROWS workspace, made on demand      */
    int busy;                  /* a call is running with the GIL released          */
} EngineObject;

/* X (n, sizes[0]) and Y (n, sizes[L]), validated for one engine's shape and
 * dtype, and W (n,), the rows' weights, or NULL. */
typedef struct {
    PyObject_HEAD
    PyArrayObject *X, *Y, *W;
    int typenum;
    int64_t n_in, n_out;
} DataObject;

/* binding_arrays.c */
PyObject *shape_of(PyArrayObject *a);
void raise_with_shape(PyObject *exc, PyArrayObject *a, PyObject *message);
int all_finite(PyArrayObject *a);
PyArrayObject *to_matrix(EngineObject *self, PyObject *obj, npy_intp ncols, const char *name,
                         int allow_1d, int *was_1d);

/* binding_calls.c */
typedef struct {
    PyThreadState *ts;
    unsigned long generation; /* interrupt_generation when the call began */
    PyObject *cancel;         /* the token the calling thread watches (a reference), or NULL */
} core_call;
extern atomic_ulong interrupt_generation;
extern atomic_int cancel_watchers;
#define CANCEL_KEY "nnext._core.cancel" /* the token's key in the thread state's dict */
PyObject *watched_token(void);
extern atomic_ulong poll_count;
int engine_ready(EngineObject *self);
void *params_data(EngineObject *self);
int engine_idle(EngineObject *self);
int core_begin(EngineObject *self, double work, core_call *call);
int core_end(EngineObject *self, core_call *call);
double work_of(const EngineObject *self, npy_intp n);
int poll_signals(void *ctx);
int check_loss_code(int loss);
DataObject *as_data(EngineObject *self, PyObject *data);
const void *data_weights(DataObject *d);
PyObject *engine_data(EngineObject *self, PyObject *args);
PyObject *engine_predict(EngineObject *self, PyObject *X_obj);
PyObject *engine_predict_nowait(EngineObject *self, PyObject *X_obj);
PyObject *engine_feedforward_nowait(EngineObject *self, PyObject *X_obj);
PyObject *engine_set_busy(EngineObject *self, PyObject *flag);
PyObject *engine_forward(EngineObject *self, PyObject *X_obj);
PyObject *engine_loss(EngineObject *self, PyObject *args);
PyObject *engine_gradients(EngineObject *self, PyObject *args);
PyObject *engine_objective(EngineObject *self, PyObject *args);
PyObject *engine_trace(EngineObject *self, PyObject *args);

/* binding_train.c */
PyObject *engine_train(EngineObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames);
PyObject *engine_optimizer_state(EngineObject *self, PyObject *ignored);
PyObject *engine_set_optimizer_state(EngineObject *self, PyObject *arg);
int check_prob_clip(double prob_clip);

/* binding_types.c */
extern PyType_Spec engine_spec, data_spec;

#endif
