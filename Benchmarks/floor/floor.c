// The floor for the supervisor benchmark: the least any supervisor can do for N children.
// It fork/execs N copies of a command, then waits for SIGTERM, sends SIGTERM to every child and
// waitpid()s every one of them before it exits. No restarts, no output handling, no status.
//
// usage: floor N PROGRAM [ARG...]      (PROGRAM is a path; it is not looked up in PATH)
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s N PROGRAM [ARG...]\n", argv[0]);
        return 64;
    }
    long count = strtol(argv[1], NULL, 10);
    if (count <= 0) {
        fprintf(stderr, "%s: N must be a positive number\n", argv[0]);
        return 64;
    }
    pid_t *pids = calloc((size_t)count, sizeof *pids);
    if (pids == NULL) return 71;

    // Block SIGTERM before the first fork, so that a SIGTERM arriving during the spawns waits
    // for sigwait instead of killing the floor with children left behind.
    sigset_t term, none;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &term, NULL);

    long spawned = 0;
    for (; spawned < count; spawned++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            break;
        }
        if (pid == 0) {
            sigprocmask(SIG_SETMASK, &none, NULL);
            execv(argv[2], argv + 2);
            _exit(127);
        }
        pids[spawned] = pid;
    }

    int signal_number = 0;
    if (spawned == count) sigwait(&term, &signal_number);
    for (long i = 0; i < spawned; i++) kill(pids[i], SIGTERM);
    for (long i = 0; i < spawned; i++) {
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {}
    }
    free(pids);
    return spawned == count ? 0 : 1;
}
