/*
 * The machine, for the core's own files (not part of the public API): the
 * thread pool, and the poll that lets long loops answer an interrupt.
 */
#ifndef NNEXT_RUNTIME_H
#define NNEXT_RUNTIME_H

#include <stdatomic.h>
#include <stddef.h>

/* Runs fn(arg, part, nparts) for part = 0 .. nparts-1, spread over the thread
 * pool (part 0 on the calling thread); serially when nparts <= 1 or when the
 * pool is busy with another caller's job.  The number of threads is
 * nn_get_num_threads(). */
typedef void (*nn_task_fn)(void *arg, int part, int nparts);
void nn_parallel(nn_task_fn fn, void *arg, int nparts);

/* nn_parallel for a task whose parts leave early once *stop is non-zero: a
 * caller left waiting for the parts workers took keeps polling (about every
 * NN_POLL_SECONDS) and sets *stop when the poll asks, so that a worker held
 * back by another program's thread cannot keep Ctrl-C waiting for its part. */
void nn_parallel_stoppable(nn_task_fn fn, void *arg, int nparts, atomic_int *stop);

/* A buffer of at least `bytes` (64-byte aligned) that belongs to the calling
 * thread, one per slot (0 .. NN_SCRATCH_SLOTS-1), kept and reused until the
 * thread ends: allocated again only to grow, so that the products' packing
 * and transposes allocate nothing per training step.  NULL when it cannot
 * be allocated (the caller then takes a path that needs none).  Callers cap
 * what they ask for (NN_SCRATCH_MAX_BYTES). */
#define NN_SCRATCH_SLOTS 2
#define NN_SCRATCH_MAX_BYTES (4.0 * 1024 * 1024)
void *nn_thread_scratch(int slot, size_t bytes);

/* The poll of the call running on this thread (nn_poll_begin in nnext_core.h).
 * nn_poll_due(): calls the poll when NN_POLL_SECONDS have passed since the last
 * call, and returns non-zero once it has asked to stop (then always, until
 * nn_poll_end).  nn_poll_stopped(): the same answer without calling the poll
 * or reading the clock.  Loops call nn_poll_due() between blocks of work of
 * at least NN_POLL_WORK multiply-adds (a clock read costs about 20 ns), and
 * stop early when it says so. */
#define NN_POLL_WORK 1e5
#define NN_POLL_SECONDS 0.05 /* half the 0.1 s in which Ctrl-C is answered */
int nn_poll_due(void);
int nn_poll_stopped(void);

#endif
