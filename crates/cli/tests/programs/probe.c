/* A small static test program for the sandbox class.
 *   probe efault     - hands the kernel bad pointers; prints what came back
 *   probe getpid N   - N getpid calls; prints nanoseconds per call
 *   probe abstime    - clock_nanosleep to absolute deadlines; prints whether each returned
 *                      0 and was reached, and the error of a clock one cannot sleep on
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "efault") == 0) {
        int fd = open("/etc/passwd", O_RDONLY);
        long r1 = syscall(SYS_read, fd, (void *)8, 16);
        int e1 = errno;
        long r2 = syscall(SYS_write, 1, (void *)0x7fffdead0000, 5);
        int e2 = errno;
        long r3 = syscall(SYS_openat, -100, (void *)16, 0);
        int e3 = errno;
        printf("read=%ld/%d write=%ld/%d open=%ld/%d\n", r1, e1, r2, e2, r3, e3);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "getpid") == 0) {
        long n = atol(argv[2]);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++)
            syscall(SYS_getpid);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
        printf("%.1f\n", ns / n);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "abstime") == 0) {
        clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
        for (int i = 0; i < 2; i++) {
            struct timespec now, deadline;
            clock_gettime(clocks[i], &deadline);
            deadline.tv_nsec += 50000000;
            if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
            }
            int r = clock_nanosleep(clocks[i], TIMER_ABSTIME, &deadline, NULL);
            clock_gettime(clocks[i], &now);
            int reached = now.tv_sec > deadline.tv_sec ||
                          (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
            printf("%s=%d reached=%d ", i ? "real" : "mono", r, reached);
        }
        struct timespec past = {1, 0};
        printf("past=%d ", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
        struct timespec short_ = {0, 1000};
        printf("thread=%d\n", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &short_, NULL));
        return 0;
    }
    fprintf(stderr, "usage: probe efault | probe getpid N | probe abstime\n");
    return 2;
}
