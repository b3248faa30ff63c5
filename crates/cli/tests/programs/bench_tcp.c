/* TCP over loopback, for scripts/bench-sandbox: a server process answers each connection's
 * 64-byte request with 64 bytes and closes; the client makes N connections (connect, request,
 * answer, close) to 127.0.0.1 and prints the median and 99th percentile of their latency in
 * nanoseconds, "P50 P99".
 *   bench_tcp N
 * Build static: gcc -static -O2 -o bench_tcp bench_tcp.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Reads exactly n bytes; 0 on success. */
static int read_all(int fd, char *b, int n) {
    while (n > 0) {
        ssize_t r = read(fd, b, n);
        if (r <= 0)
            return -1;
        b += r;
        n -= r;
    }
    return 0;
}

static void serve(int ls, long rounds) {
    char buf[64];
    for (long i = 0; i < rounds; i++) {
        int c = accept(ls, NULL, NULL);
        if (c < 0 || read_all(c, buf, sizeof buf) != 0 || write(c, buf, sizeof buf) != sizeof buf)
            _exit(1);
        close(c);
    }
    _exit(0);
}

static int cmp(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long rounds;
    if (argc != 2 || (rounds = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: bench_tcp N\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &len) != 0) {
        perror("listen");
        return 1;
    }
    pid_t server = fork();
    if (server == 0)
        serve(ls, rounds);
    long *lat = calloc(rounds, sizeof *lat);
    char buf[64];
    memset(buf, 'q', sizeof buf);
    for (long i = 0; i < rounds; i++) {
        long t = now_ns();
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0 ||
            write(c, buf, sizeof buf) != sizeof buf || read_all(c, buf, sizeof buf) != 0) {
            perror("round trip");
            kill(server, SIGKILL);
            return 1;
        }
        close(c);
        lat[i] = now_ns() - t;
    }
    int st;
    waitpid(server, &st, 0);
    qsort(lat, rounds, sizeof *lat, cmp);
    printf("%ld %ld\n", lat[rounds / 2], lat[rounds * 99 / 100]);
    return 0;
}
