/* The host's cross-core round trip: two threads pinned to the first two
 * allowed CPUs hand a cache line back and forth; prints the mean round trip in
 * nanoseconds.  bench/run.py records it around the multi-threaded cases: on
 * the shared 2-vCPU VM of bench/RESULTS.md it is 50-80 ns in most minutes and
 * 300-600 ns in the host's slow periods, when every synchronisation and every
 * cache line written by one core and read by the other costs that much more
 * (E's step in C: 740 against 1,085-1,320 us; numpy's: 1,000 against
 * 1,780-3,450 us).
 *
 *     cc -O2 -pthread bench/roundtrip.c -o roundtrip && ./roundtrip
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

enum { ROUNDS = 200000 };
static _Alignas(64) atomic_int flag;
static int cpus[2];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *other(void *arg)
{
    (void)arg;
    pin(cpus[1]);
    for (int i = 0; i < ROUNDS; i++) {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&flag, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(void)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        printf("nan\n"); /* one CPU: no round trip */
        return 0;
    }
    for (int c = 0, k = 0; k < 2; c++)
        if (CPU_ISSET(c, &allowed)) cpus[k++] = c;
    pin(cpus[0]);
    pthread_t t;
    if (pthread_create(&t, NULL, other, NULL) != 0) return 1;
    const double t0 = now();
    for (int i = 0; i < ROUNDS; i++) {
        atomic_store_explicit(&flag, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&flag, memory_order_acquire) != 2 * i + 2) {
        }
    }
    const double dt = now() - t0;
    pthread_join(t, NULL);
    printf("%.1f\n", dt / ROUNDS * 1e9);
    return 0;
}
