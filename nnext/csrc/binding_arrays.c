/* Converting and validating arrays, once (see binding.h). */
#include "binding.h"

/* ------------------------------------------------------------ arrays */

PyObject *shape_of(PyArrayObject *a)
{
    const int nd = PyArray_NDIM(a);
    PyObject *t = PyTuple_New(nd);
    if (!t) return NULL;
    for (int i = 0; i < nd; i++) {
        PyObject *d = PyLong_FromSsize_t(PyArray_DIM(a, i));
        if (!d) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, d);
    }
    return t;
}

/* Raise exc with "<message>, got shape <shape of a>"; steals message. */
void raise_with_shape(PyObject *exc, PyArrayObject *a, PyObject *message)
{
    PyObject *shape = message ? shape_of(a) : NULL;
    if (shape) PyErr_Format(exc, "%U, got shape %R", message, shape);
    Py_XDECREF(shape);
    Py_XDECREF(message);
}

/* Whether a's values are all finite (a C-contiguous float64 or float32 array). */
int all_finite(PyArrayObject *a)
{
    const npy_intp n = PyArray_SIZE(a);
    int bad = 0; /* x - x is NaN iff x is NaN or inf */
    if (PyArray_TYPE(a) == NPY_DOUBLE) {
        const double *x = PyArray_DATA(a);
        for (npy_intp i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    } else {
        const float *x = PyArray_DATA(a);
        for (npy_intp i = 0; i < n; i++) bad |= !(x[i] - x[i] == 0);
    }
    return !bad;
}

/* Whether the bytes of a overlap those of b (NULL: no). */
int overlaps(PyArrayObject *a, PyArrayObject *b)
{
    if (!b) return 0;
    const char *a0 = PyArray_DATA(a), *b0 = PyArray_DATA(b);
    const char *a1 = a0 + PyArray_NBYTES(a), *b1 = b0 + PyArray_NBYTES(b);
    return a0 < b1 && b0 < a1;
}

/* Whether a float array of any layout holds NaN or infinity (-1: error). */
int has_nonfinite(PyArrayObject *a)
{
    PyArray_Descr *descr = PyArray_DescrFromType(NPY_DOUBLE);
    if (!descr) return -1;
    PyArrayObject *d = (PyArrayObject *)PyArray_FromArray(
        a, descr, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST);
    if (!d) return -1;
    const int bad = !all_finite(d);
    Py_DECREF(d);
    return bad;
}

/*
 * obj as a new reference to a C-contiguous (rows, ncols) array of the
 * engine's dtype, never sharing memory with the engine's own buffers.  A 1-D
 * input is taken as one row when allow_1d (and *was_1d is set).  Errors:
 * TypeError for non-real data; ValueError for a wrong shape, no rows, NaN or
 * infinity, or values too large for the dtype.
 */
PyArrayObject *to_matrix(EngineObject *self, PyObject *obj, npy_intp ncols,
                                const char *name, int allow_1d, int *was_1d)
{
    if (was_1d) *was_1d = 0;
    PyArrayObject *arr = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!arr) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_Format(PyExc_ValueError, "%s could not be read as an array: %S", name,
                         value ? value : Py_None);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        }
        return NULL;
    }
    const int t = PyArray_TYPE(arr);
    if (!(PyTypeNum_ISBOOL(t) || PyTypeNum_ISINTEGER(t) || PyTypeNum_ISFLOAT(t))) {
        PyErr_Format(PyExc_TypeError, "%s must hold real numbers, got dtype %R", name,
                     (PyObject *)PyArray_DESCR(arr));
        goto fail;
    }
    const int nd = PyArray_NDIM(arr);
    const long long nc = (long long)ncols;
    if (!(nd == 2 || (nd == 1 && allow_1d))) {
        raise_with_shape(PyExc_ValueError, arr,
                         allow_1d ? PyUnicode_FromFormat("%s must be 2-D (n_samples, %lld) or "
                                                         "one sample of shape (%lld,)",
                                                         name, nc, nc)
                                  : PyUnicode_FromFormat("%s must be 2-D (n_samples, %lld)",
                                                         name, nc));
        goto fail;
    }
    const npy_intp cols = PyArray_DIM(arr, nd - 1);
    const npy_intp rows = nd == 2 ? PyArray_DIM(arr, 0) : 1;
    if (cols != ncols) {
        raise_with_shape(PyExc_ValueError, arr,
                         PyUnicode_FromFormat(nd == 2 ? "%s must have %lld columns"
                                                      : "%s must have %lld values",
                                              name, nc));
        goto fail;
    }
    if (rows < 1) {
        raise_with_shape(PyExc_ValueError, arr,
                         PyUnicode_FromFormat("%s must have at least one row", name));
        goto fail;
    }
    PyArray_Descr *descr = PyArray_DescrFromType(self->typenum);
    if (!descr) goto fail;
    int flags = NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST;
    if (overlaps(arr, self->params) || overlaps(arr, self->opt_state))
        flags |= NPY_ARRAY_ENSURECOPY; /* the network's own memory: behave as a copy */
    PyArrayObject *out = (PyArrayObject *)PyArray_FromArray(arr, descr, flags);
    if (!out) goto fail;
    if (nd == 1) {
        npy_intp dims[2] = {1, ncols};
        PyArray_Dims newshape = {dims, 2};
        PyArrayObject *r = (PyArrayObject *)PyArray_Newshape(out, &newshape, NPY_CORDER);
        Py_DECREF(out);
        if (!r) goto fail;
        out = r;
        if (was_1d) *was_1d = 1;
    }
    if (!all_finite(out)) {
        const int source_bad = PyTypeNum_ISFLOAT(t) ? has_nonfinite(arr) : 0;
        if (source_bad < 0) PyErr_Clear();
        if (source_bad)
            PyErr_Format(PyExc_ValueError, "%s contains NaN or infinity", name);
        else
            PyErr_Format(PyExc_ValueError, "%s has values too large for %s (they would become "
                         "infinity)", name, self->typenum == NPY_DOUBLE ? "float64" : "float32");
        Py_DECREF(out);
        goto fail;
    }
    Py_DECREF(arr);
    return out;
fail:
    Py_DECREF(arr);
    return NULL;
}
