/* Event-loop wake-up cost, for scripts/bench-sandbox: two processes ping-pong N round trips
 * through a pair of eventfds, each waiting in epoll_wait on the one the other writes (as an
 * event loop waits on its wake-up fd). Prints nanoseconds per round trip.
 *   bench_epoll N
 * Build static: gcc -static -O2 -o bench_epoll bench_epoll.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Waits in epoll_wait until `in` is readable, takes its count, and adds 1 to `out`. */
static int bounce(int ep, int in, int out) {
    struct epoll_event ev;
    uint64_t v = 1;
    if (epoll_wait(ep, &ev, 1, -1) != 1 || read(in, &v, 8) != 8)
        return -1;
    v = 1;
    return write(out, &v, 8) == 8 ? 0 : -1;
}

/* An epoll instance watching `fd` for input. */
static int watch(int fd) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll");
        exit(1);
    }
    return ep;
}

int main(int argc, char **argv) {
    long rounds;
    if (argc != 2 || (rounds = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: bench_epoll N\n");
        return 2;
    }
    int ping = eventfd(0, EFD_CLOEXEC), pong = eventfd(0, EFD_CLOEXEC);
    if (ping < 0 || pong < 0) {
        perror("eventfd");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        int ep = watch(ping);
        for (long i = 0; i < rounds; i++)
            if (bounce(ep, ping, pong) != 0)
                _exit(1);
        _exit(0);
    }
    int ep = watch(pong);
    struct timespec a, b;
    uint64_t one = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < rounds; i++) {
        struct epoll_event ev;
        if (write(ping, &one, 8) != 8 || epoll_wait(ep, &ev, 1, -1) != 1 ||
            read(pong, &one, 8) != 8) {
            perror("round trip");
            return 1;
        }
        one = 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    int st;
    waitpid(child, &st, 0);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.0f\n", ns / rounds);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
