/* The machine: which instruction set the hot functions use (nnext_isa.h),
 * the thread pool that large matrix products are split over, and the poll
 * through which long loops answer an interrupt (nnext_runtime.h). */
#define _GNU_SOURCE /* sched_getcpu and the CPU_* macros on Linux; POSIX 2008 besides */
#include "nnext_core.h"
#include "nnext_gemm.h"
#include "nnext_isa.h"
#include "nnext_runtime.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ instruction set */

static atomic_int nn_isa_level = -1;

int nn_isa(void)
{
    int level = atomic_load_explicit(&nn_isa_level, memory_order_relaxed);
    if (level >= 0) return level;
    level = 0;
#if NN_MULTI_ISA
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = NN_ISA_AVX2;
    if (level == NN_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        level = NN_ISA_AVX512;
    /* NNEXT_ISA=base|avx2 caps the choice (for testing the other kernels) */
    const char *cap = getenv("NNEXT_ISA");
    if (cap && strcmp(cap, "base") == 0) level = NN_ISA_BASE;
    if (cap && strcmp(cap, "avx2") == 0 && level > 3) level = NN_ISA_AVX2;
#endif
    atomic_store_explicit(&nn_isa_level, level, memory_order_relaxed);
    return level;
}

int nn_isa_selected = NN_ISA_BASE;

#if NN_MULTI_ISA
__attribute__((constructor)) static void select_isa(void) { nn_isa_selected = nn_isa(); }
#endif

/* ----------------------------------------------------------------- threads */

static double monotonic_seconds(void);

/* How long a worker spins for the next job before it sleeps on the condition
 * variable.  A training step's parallel products come tens to hundreds of
 * microseconds apart (the serial work between them); a worker that slept in
 * between paid a wake-up each time, and the scheduler then often put it on
 * its waker's CPU.  Measured with bench/run.py's case E network (64-256-256-10,
 * batch 64, 4,096 rows, 2 threads, numpy's epoch run before each of nnext's):
 * with a spin of 100,000 loads nnext's epoch took 36 ms in
 * most runs against 16 ms in the others; with this spin, 16 ms in nearly all.
 * (OpenBLAS's workers also spin for a while after a call.)  The spin yields
 * the CPU every 256 loads (spin_while): without that, the 256-64-64-10 network
 * at batch 64 (2,048 rows) took 10-16 ms an epoch in 7 of 9 runs on 2 threads
 * against 2.6-2.9 ms on one thread; with it, 3.6-3.9 ms in all 9. */
#define NN_WORKER_SPIN_S 2e-3

/* How long a caller whose own parts are done spins for the parts workers
 * took before it sleeps until they finish (nn_parallel). */
#define NN_CALLER_SPIN_S 1e-3

/* A job's parts: at most NN_MAX_PARTS, counted in the low NN_PART_BITS bits
 * of the pool's ticket. */
#define NN_PART_BITS 16
#define NN_PART_MASK ((1ull << NN_PART_BITS) - 1)
#define NN_MAX_PARTS 4096

/* Spins while the job generation in *ticket is `seen`, for at most
 * `seconds`; returns the ticket last read. */
static unsigned long long spin_while(const atomic_ullong *ticket, unsigned long long seen,
                                     double seconds)
{
    unsigned long long t;
    double start = 0;
    for (unsigned spins = 1; ((t = atomic_load(ticket)) >> NN_PART_BITS) == seen; spins++) {
        if (spins % 256 == 0) { /* a yield and a clock read every 256 loads */
            /* A spinning worker that the scheduler put on the CPU of the thread
             * whose job it waits for would take that thread's time for the
             * serial work between products; the yield hands the CPU back at
             * once (alone on its CPU, the yield returns at once). */
            sched_yield();
            const double now = monotonic_seconds();
            if (start == 0)
                start = now;
            else if (now - start > seconds)
                break;
        }
    }
    return t;
}

/* A worker woken from its sleep is often placed by the scheduler on the CPU
 * of the thread that woke it (Linux's wake-affine placement): the caller,
 * which runs part 0 there.  The two parts then share one CPU, and the load
 * balancer can leave them so for tens of milliseconds while another CPU
 * idles.  Measured on case E's network of bench/run.py (64-256-256-10, batch
 * 256, 16 steps, 2 threads, 0.3 s of sleep before each epoch as the
 * benchmark does; a C loop over nn_train_f32 counting the worker's jobs on
 * the caller's CPU): a process's first epoch took 17.0-21.9 ms with the
 * worker on the caller's CPU for 71-211 of its 352 jobs, the next ones 12.0
 * ms (one thread: 20.5 ms); from Python, where every epoch starts a fresh
 * network, 21.7 ms in 8 of 8 epochs one minute and 12.2-13.5 ms the next.
 * So a worker that takes a job on the caller's CPU moves itself: it leaves
 * that CPU out of its affinity mask (the kernel moves it at once to another
 * allowed CPU) and puts the mask back as it was (which does not move it
 * back).  First epochs then 13.2-13.6 ms, no job on the caller's CPU. */
static void move_off_cpu(int caller_cpu)
{
#if defined(__linux__) && defined(CPU_ISSET)
    if (caller_cpu < 0 || caller_cpu >= CPU_SETSIZE || sched_getcpu() != caller_cpu) return;
    cpu_set_t allowed, others;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
    others = allowed;
    CPU_CLR(caller_cpu, &others);
    if (CPU_COUNT(&others) == 0) return; /* nowhere else to go */
    if (sched_setaffinity(0, sizeof others, &others) == 0)
        sched_setaffinity(0, sizeof allowed, &allowed);
#else
    (void)caller_cpu;
#endif
}

/* The CPU the calling thread runs on, or -1 where that cannot be asked. */
static int current_cpu(void)
{
#if defined(__linux__) && defined(CPU_ISSET)
    return sched_getcpu();
#else
    return -1;
#endif
}

/* A pool of n - 1 workers started on first use.  A job is nparts parts;
 * the caller runs part 0 itself, and the others go to whoever claims them
 * first, the caller included (a counter in `ticket`).  So when another
 * program's thread holds a worker's CPU (numpy's OpenBLAS workers spin for
 * about 0.1 s after each of its products), the caller runs the parts
 * that worker has not taken, instead of waiting for the scheduler to give
 * the worker its CPU back.  Measured on case E's network of bench/run.py
 * (64-256-256-10, batch 1,024, 4,096 rows) with numpy's epoch run just
 * before each of nnext's: 80-93 ms an epoch against 11-13 ms after a 0.3 s
 * pause, when every part was bound to its thread and the caller waited for
 * every worker to see the job.  A part computes the same values whichever
 * thread runs it.  A caller left waiting for a part that a worker took
 * spins briefly, then sleeps (NN_CALLER_SPIN_S), so that its CPU is free
 * for the scheduler to move that worker onto.  Workers spin for the next
 * job (NN_WORKER_SPIN_S), then sleep on a condition variable.  One job at
 * a time: a caller that finds the pool busy (another thread training) runs
 * its job alone.  After fork() the child has no workers: the atfork handler
 * forgets them and the next job starts new ones. */

static struct {
    pthread_mutex_t lock; /* guards started, sleeping on wake and on done */
    pthread_cond_t wake;  /* a new job (workers) */
    pthread_cond_t done;  /* the job's last part finished (the caller) */
    pthread_mutex_t busy; /* held by the thread running a job */
    int started;          /* workers running */
    /* The current job, on one cache line with its ticket: written by the
     * caller before it publishes the ticket, and read by a claimer before
     * its compare-and-swap on the ticket, which fails once that job is over
     * (a job cannot end while a part of it is unclaimed). */
    struct {
        /* (generation << NN_PART_BITS) | the next part to claim */
        atomic_ullong ticket;
        _Atomic(nn_task_fn) fn;
        _Atomic(void *) arg;
        atomic_int nparts;
        atomic_int workers;    /* workers 1 .. this one take part in it */
        atomic_int caller_cpu; /* the CPU the caller ran on when it posted the job, or -1 */
    } job __attribute__((aligned(64)));
    /* written by the workers as they finish parts, read by the caller */
    struct {
        atomic_int finished;       /* parts of the current job the workers finished */
        atomic_int caller_waiting; /* the caller sleeps on done */
    } end __attribute__((aligned(64)));
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER,
          .busy = PTHREAD_MUTEX_INITIALIZER,
          .job = {.caller_cpu = -1}}; /* the rest zero (clang takes no NULL for an atomic pointer here) */

static atomic_int nn_threads_wanted = 0; /* 0: not yet decided */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_after_fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_init(&pool.busy, NULL);
    pool.started = 0;
    atomic_store(&pool.job.ticket, 0);
    atomic_store(&pool.end.finished, 0);
    atomic_store(&pool.end.caller_waiting, 0);
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, pool_after_fork_child); }

static int default_threads(void)
{
    const char *env = getenv("NNEXT_NUM_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > NN_MAX_THREADS ? NN_MAX_THREADS : (int)n;
}

int nn_get_num_threads(void)
{
    int n = atomic_load_explicit(&nn_threads_wanted, memory_order_relaxed);
    if (n > 0) return n;
    n = default_threads();
    atomic_store_explicit(&nn_threads_wanted, n, memory_order_relaxed);
    return n;
}

void nn_set_num_threads(int n)
{
    if (n < 1) n = default_threads();
    if (n > NN_MAX_THREADS) n = NN_MAX_THREADS;
    atomic_store_explicit(&nn_threads_wanted, n, memory_order_relaxed);
}

/* Claims and runs parts of the job of generation `gen` until none is left
 * (or that job is over); worker: its index (1 ..), or 0 for the caller.
 * Returns the number of parts run. */
static int run_parts(unsigned long long gen, int worker)
{
    int ran = 0;
    for (;;) {
        unsigned long long t = atomic_load(&pool.job.ticket);
        if (t >> NN_PART_BITS != gen) return ran;
        const nn_task_fn fn = atomic_load_explicit(&pool.job.fn, memory_order_relaxed);
        void *const arg = atomic_load_explicit(&pool.job.arg, memory_order_relaxed);
        const int nparts = atomic_load_explicit(&pool.job.nparts, memory_order_relaxed);
        const int part = (int)(t & NN_PART_MASK);
        if (part >= nparts || worker > atomic_load_explicit(&pool.job.workers, memory_order_relaxed))
            return ran;
        /* the job cannot end while this part is unclaimed: a claim that
         * succeeds read that job's fields */
        if (!atomic_compare_exchange_weak(&pool.job.ticket, &t, t + 1)) continue;
        fn(arg, part, nparts);
        ran++;
        if (!worker) continue; /* the caller counts its own */
        atomic_fetch_add(&pool.end.finished, 1);
        if (atomic_load(&pool.end.caller_waiting)) { /* it checks whether that was the last */
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

static void *worker_main(void *arg)
{
    /* arg: (generation at creation << 8) | index, index 1 .. NN_MAX_THREADS - 1 */
    const int index = (int)((uintptr_t)arg & 0xff);
    unsigned long long seen = (unsigned long long)((uintptr_t)arg >> 8);
    for (;;) {
        unsigned long long t = spin_while(&pool.job.ticket, seen, NN_WORKER_SPIN_S);
        if (t >> NN_PART_BITS == seen) {
            pthread_mutex_lock(&pool.lock);
            while ((t = atomic_load(&pool.job.ticket)) >> NN_PART_BITS == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = t >> NN_PART_BITS;
        /* whether or not a part is left for it: a worker left on the
         * caller's CPU would find none left in every job after */
        move_off_cpu(atomic_load_explicit(&pool.job.caller_cpu, memory_order_relaxed));
        run_parts(seen, index);
    }
    return NULL;
}

/* Starts workers up to n - 1; returns how many run. */
static int pool_grow(int n)
{
    pthread_once(&atfork_once, register_atfork);
    while (pool.started < n - 1 && pool.started < NN_MAX_THREADS - 1) {
        pthread_t t;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const uintptr_t arg = ((uintptr_t)(atomic_load(&pool.job.ticket) >> NN_PART_BITS) << 8) |
                              (uintptr_t)(pool.started + 1);
        const int rc = pthread_create(&t, &attr, worker_main, (void *)arg);
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        pool.started++;
    }
    return pool.started;
}

void nn_parallel_stoppable(nn_task_fn fn, void *arg, int nparts, atomic_int *stop)
{
    if (nparts <= 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        for (int i = 0; i < nparts; i++) fn(arg, i, nparts);
        return;
    }
    if (nparts > NN_MAX_PARTS) nparts = NN_MAX_PARTS;
    const int wanted = nn_get_num_threads() < nparts ? nn_get_num_threads() : nparts;
    const int workers = wanted > 1 ? pool_grow(wanted) : 0;
    if (workers < 1) { /* one thread wanted, or no worker could be started */
        pthread_mutex_unlock(&pool.busy);
        for (int i = 0; i < nparts; i++) fn(arg, i, nparts);
        return;
    }
    /* workers 1 .. wanted - 1 take part (more may run, from an earlier count) */
    atomic_store_explicit(&pool.job.workers, wanted - 1, memory_order_relaxed);
    atomic_store_explicit(&pool.job.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.job.arg, arg, memory_order_relaxed);
    atomic_store_explicit(&pool.job.nparts, nparts, memory_order_relaxed);
    atomic_store_explicit(&pool.job.caller_cpu, current_cpu(), memory_order_relaxed);
    atomic_store(&pool.end.finished, 0);
    const unsigned long long gen = (atomic_load(&pool.job.ticket) >> NN_PART_BITS) + 1;
    atomic_store(&pool.job.ticket, (gen << NN_PART_BITS) | 1); /* part 0 is the caller's */
    pthread_mutex_lock(&pool.lock);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(arg, 0, nparts);
    const int theirs = nparts - 1 - run_parts(gen, 0); /* the parts no worker has taken */
    /* the parts workers took: spin, yielding, then sleep */
    double start = 0;
    for (unsigned spins = 1; atomic_load(&pool.end.finished) < theirs; spins++) {
        if (spins % 64 != 0) continue;
        sched_yield();
        const double now = monotonic_seconds();
        if (start == 0) {
            start = now;
        } else if (now - start > NN_CALLER_SPIN_S) {
            pthread_mutex_lock(&pool.lock);
            atomic_store(&pool.end.caller_waiting, 1);
            while (atomic_load(&pool.end.finished) < theirs) {
                if (!stop) {
                    pthread_cond_wait(&pool.done, &pool.lock);
                    continue;
                }
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
                until.tv_nsec += (long)(NN_POLL_SECONDS * 1e9);
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                if (pthread_cond_timedwait(&pool.done, &pool.lock, &until) == 0) continue;
                /* the poll takes the GIL: never with the pool's lock held */
                pthread_mutex_unlock(&pool.lock);
                if (nn_poll_due()) atomic_store_explicit(stop, 1, memory_order_relaxed);
                pthread_mutex_lock(&pool.lock);
            }
            atomic_store(&pool.end.caller_waiting, 0);
            pthread_mutex_unlock(&pool.lock);
            break;
        }
    }
    pthread_mutex_unlock(&pool.busy);
}

void nn_parallel(nn_task_fn fn, void *arg, int nparts) { nn_parallel_stoppable(fn, arg, nparts, NULL); }

/* ------------------------------------------------------------ scratch */

/* Each thread's buffers (nn_thread_scratch), freed by the key's destructor
 * when the thread ends. */
typedef struct {
    void *p[NN_SCRATCH_SLOTS];
    size_t bytes[NN_SCRATCH_SLOTS];
} thread_scratch;

static pthread_key_t scratch_key;
static int scratch_key_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    thread_scratch *ts = arg;
    for (int i = 0; i < NN_SCRATCH_SLOTS; i++) free(ts->p[i]);
    free(ts);
}

static void scratch_key_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

void *nn_thread_scratch(int slot, size_t bytes)
{
    if (slot < 0 || slot >= NN_SCRATCH_SLOTS || bytes > (size_t)NN_SCRATCH_MAX_BYTES) return NULL;
    pthread_once(&scratch_once, scratch_key_init);
    if (!scratch_key_ok) return NULL;
    thread_scratch *ts = pthread_getspecific(scratch_key);
    if (!ts) {
        ts = calloc(1, sizeof *ts);
        if (!ts) return NULL;
        if (pthread_setspecific(scratch_key, ts) != 0) {
            free(ts);
            return NULL;
        }
    }
    if (ts->bytes[slot] < bytes) {
        const size_t size = (bytes + 63) / 64 * 64; /* a multiple of the alignment */
        void *p = aligned_alloc(64, size);
        if (!p) return NULL;
        free(ts->p[slot]);
        ts->p[slot] = p;
        ts->bytes[slot] = size;
    }
    return ts->p[slot];
}

/* ------------------------------------------------------------------- polling */

/* The poll scope of the calling thread (worker threads have none). */
static _Thread_local struct {
    nn_poll_fn poll;
    void *ctx;
    double last;  /* when poll was last called (or the scope began), seconds */
    int stopped;  /* poll asked to stop */
} poll_scope;

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void nn_poll_begin(nn_poll_fn poll, void *ctx)
{
    poll_scope.poll = poll;
    poll_scope.ctx = ctx;
    poll_scope.last = poll ? monotonic_seconds() : 0;
    poll_scope.stopped = 0;
}

int nn_poll_end(void)
{
    const int stopped = poll_scope.stopped;
    poll_scope.poll = NULL;
    poll_scope.stopped = 0;
    return stopped;
}

int nn_poll_stopped(void) { return poll_scope.stopped; }

int nn_poll_due(void)
{
    if (poll_scope.stopped) return 1;
    if (!poll_scope.poll) return 0;
    const double t = monotonic_seconds();
    if (t - poll_scope.last < NN_POLL_SECONDS) return 0;
    poll_scope.last = t;
    poll_scope.stopped = poll_scope.poll(poll_scope.ctx) != 0;
    return poll_scope.stopped;
}
