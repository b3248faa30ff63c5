/* Thread wake-up cost, for scripts/bench-sandbox: two threads ping-pong N round trips through
 * one shared futex word with raw FUTEX_WAIT / FUTEX_WAKE (no user-space spinning, so each hand-over
 * is a wake of a thread that waits or is about to). Prints nanoseconds per round trip.
 *   bench_futex N
 * Build static: gcc -static -O2 -pthread -o bench_futex bench_futex.c
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic int word; /* 0: the main thread's turn to ping, 1: the partner's turn to pong */
static long rounds;

static void futex_wait(int expected) {
    syscall(SYS_futex, &word, FUTEX_WAIT, expected, NULL, NULL, 0);
}

static void futex_wake(void) {
    syscall(SYS_futex, &word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Waits until the word is `want`, then sets it to `next` and wakes the other thread. */
static void hand_over(int want, int next) {
    int v;
    while ((v = atomic_load(&word)) != want)
        futex_wait(v);
    atomic_store(&word, next);
    futex_wake();
}

static void *partner(void *arg) {
    (void)arg;
    for (long i = 0; i < rounds; i++)
        hand_over(1, 0);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 || (rounds = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: bench_futex N\n");
        return 2;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < rounds; i++)
        hand_over(0, 1);
    /* The last pong: the partner has set the word back to 0. */
    while (atomic_load(&word) != 0)
        futex_wait(1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.0f\n", ns / rounds);
    return 0;
}
