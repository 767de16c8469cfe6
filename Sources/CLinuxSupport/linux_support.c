#define _GNU_SOURCE
#include "linux_support.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct spawn_failure {
    int32_t stage;
    int32_t error;
};

// Only async-signal-safe calls from here on: the parent is multithreaded.
static void __attribute__((noreturn)) fail(int report_fd, int stage) {
    struct spawn_failure failure = { stage, errno };
    ssize_t ignored = write(report_fd, &failure, sizeof failure);
    (void)ignored;
    _exit(127);
}

static void run_child(const runnerd_spawn_request *request, pid_t parent, int report_fd) {
    if (setsid() < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_SESSION);

    if (request->death_signal != 0) {
        if (prctl(PR_SET_PDEATHSIG, request->death_signal) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_DEATH_SIGNAL);
        // The parent may have died before the death signal was armed.
        if (getppid() != parent) { errno = ESRCH; fail(report_fd, RUNNERD_SPAWN_STAGE_DEATH_SIGNAL); }
    }

    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_STDIO);
    if (dup2(null_fd, 0) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_STDIO);
    if (dup2(request->stdout_fd, 1) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_STDIO);
    if (dup2(request->stderr_fd, 2) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_STDIO);

    if (request->working_directory != NULL && chdir(request->working_directory) < 0)
        fail(report_fd, RUNNERD_SPAWN_STAGE_CHDIR);

    if (request->set_credentials) {
        if (setgroups(request->group_count, request->groups) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_GROUPS);
        if (setgid(request->gid) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_GID);
        if (setuid(request->uid) < 0) fail(report_fd, RUNNERD_SPAWN_STAGE_UID);
    }

    // Dispositions: SIG_IGN survives exec, so reset every signal; then unblock them all.
    struct sigaction default_action = { 0 };
    default_action.sa_handler = SIG_DFL;
    for (int number = 1; number < NSIG; number++) {
        if (number == SIGKILL || number == SIGSTOP) continue;
        sigaction(number, &default_action, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    execve(request->path, request->argv, request->envp);
    fail(report_fd, RUNNERD_SPAWN_STAGE_EXEC);
}

int runnerd_spawn(const runnerd_spawn_request *request, runnerd_spawn_result *result) {
    result->pid = 0;
    result->stage = RUNNERD_SPAWN_STAGE_NONE;
    result->error = 0;

    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        result->stage = RUNNERD_SPAWN_STAGE_FORK;
        result->error = errno;
        return -1;
    }

    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        run_child(request, parent, report[1]);
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);

    if (pid < 0) {
        close(report[0]);
        result->stage = RUNNERD_SPAWN_STAGE_FORK;
        result->error = fork_error;
        return -1;
    }

    // The report pipe closes on a successful exec (close-on-exec) and carries a failure otherwise.
    struct spawn_failure failure;
    ssize_t got;
    do {
        got = read(report[0], &failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);

    if (got == (ssize_t)sizeof failure) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        result->stage = failure.stage;
        result->error = failure.error;
        return -1;
    }
    result->pid = pid;
    return 0;
}

int runnerd_become_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

int runnerd_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
