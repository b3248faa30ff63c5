/* Makes the system calls whose numbers are its arguments, with zero arguments, and prints for
 * each "NR ret" or "NR errno E": how a seccomp profile answered them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long nr = strtol(argv[i], NULL, 10);
        errno = 0;
        long r = syscall(nr, 0, 0, 0, 0, 0, 0);
        if (r == -1)
            printf("%ld errno %d\n", nr, errno);
        else
            printf("%ld ret\n", nr);
    }
    fflush(stdout);
    return 0;
}
