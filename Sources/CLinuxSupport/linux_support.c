#define _GNU_SOURCE
#include "linux_support.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// The open-files limit children get, when runnerd_raise_open_files_limit raised the daemon's own.
// Written once before the first spawn, read by every child.
static struct rlimit children_open_files;
static int children_open_files_set = 0;

int runnerd_raise_open_files_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur >= limit.rlim_max) return 0;
    struct rlimit raised = { limit.rlim_max, limit.rlim_max };
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) return -1;
    children_open_files = limit;
    children_open_files_set = 1;
    return 0;
}

// The descriptor table. A child made by clone() gets a copy of the parent's table, which holds
// two pipe ends per service, and its execve then closes them one by one: with 2,000 services a
// start spent 41% of its time there, a cost that grew with every service started before.
// Instead the child shares the parent's table (CLONE_FILES) and its first step is
// close_range(CLOSE_RANGE_UNSHARE) above the low slots that the parent reserved once: the kernel
// then gives the child a table of its own holding only the descriptors below the range, without
// copying the rest. /dev/null lives in one slot; each lane (below) has two more, into which the
// parent puts a child's stdout and stderr just before the clone.
//
// Lanes. A spawn holds its lane from the clone until the child's exec (CLONE_VFORK), which is
// most of the spawn's time: the kernel sets up the new program meanwhile. With two lanes, two
// threads spawn at once, and a start of many services no longer waits for each exec in turn.
// A child briefly holds the other lane's slots too, between its unshare and its close_range(3),
// and never past its exec.
#define SPAWN_LANES 2

struct spawn_lane {
    pthread_mutex_t lock;
    int slot_stdout, slot_stderr;
    // The child's stack. It needs little: a few system calls and execve. It is never unmapped:
    // unmapping memory of a threaded process interrupts every CPU the process ran on.
    char stack[64 * 1024] __attribute__((aligned(64)));
};

static struct spawn_lane spawn_lanes[SPAWN_LANES] = {
    [0 ... SPAWN_LANES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER, .slot_stdout = -1, .slot_stderr = -1 },
};
static pthread_mutex_t spawn_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static int spawn_slots_reserved = 0;  // read with acquire, set with release once the slots exist
static int slot_null = -1, highest_slot = -1;
static unsigned next_lane = 0;

// Returns 0, or -1 with errno.
static int reserve_spawn_slots(void) {
    if (__atomic_load_n(&spawn_slots_reserved, __ATOMIC_ACQUIRE)) return 0;
    pthread_mutex_lock(&spawn_slots_lock);
    int status = 0;
    if (!spawn_slots_reserved) {
        enum { count = 1 + 2 * SPAWN_LANES };
        int fds[count];
        for (int index = 0; index < count; index++) {
            fds[index] = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fds[index] < 0) {
                int error = errno;
                while (index-- > 0) close(fds[index]);
                errno = error;
                status = -1;
                break;
            }
        }
        if (status == 0) {
            slot_null = fds[0];
            highest_slot = fds[0];
            for (int lane = 0; lane < SPAWN_LANES; lane++) {
                spawn_lanes[lane].slot_stdout = fds[1 + 2 * lane];
                spawn_lanes[lane].slot_stderr = fds[2 + 2 * lane];
            }
            for (int index = 1; index < count; index++) {
                if (fds[index] > highest_slot) highest_slot = fds[index];
            }
            __atomic_store_n(&spawn_slots_reserved, 1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&spawn_slots_lock);
    return status;
}

void runnerd_reserve_spawn_slots(void) {
    reserve_spawn_slots();
}

// A free lane if there is one, else the next in turn, locked.
static struct spawn_lane *take_lane(void) {
    for (int lane = 0; lane < SPAWN_LANES; lane++) {
        if (pthread_mutex_trylock(&spawn_lanes[lane].lock) == 0) return &spawn_lanes[lane];
    }
    struct spawn_lane *lane = &spawn_lanes[__atomic_fetch_add(&next_lane, 1, __ATOMIC_RELAXED) % SPAWN_LANES];
    pthread_mutex_lock(&lane->lock);
    return lane;
}

// The child shares the parent's memory (CLONE_VM | CLONE_VFORK, as glibc's posix_spawn does), so
// starting a child costs no copy of the parent's page tables and no copy-on-write faults in the
// parent afterwards, however large the daemon is; the calling thread is suspended until the
// child has exec'd or exited. The child runs on a stack of its own and reports a failure by
// writing it into its `struct spawn_child`, which the parent reads once it resumes.
struct spawn_child {
    const runnerd_spawn_request *request;
    const struct spawn_lane *lane;
    pid_t parent;
    volatile int stage;
    volatile int error;
};

// Only raw system calls from here on: the child shares memory with a multithreaded parent,
// whose locks, allocator and thread list it must not touch. (glibc's setuid() and friends, for
// example, signal every thread of the parent, so they are called as plain syscalls here.)
static void __attribute__((noreturn)) fail(struct spawn_child *child, int stage) {
    child->error = errno;
    child->stage = stage;
    _exit(127);
}

static int run_child(void *argument) {
    struct spawn_child *child = argument;
    const runnerd_spawn_request *request = child->request;
    // Into the service's cgroup before anything else, while still root and before the exec, so
    // that nothing the program does happens outside it. The descriptor is the parent's (the table
    // is still shared here); "0" moves the writer, which is this child alone. Not clone3's
    // CLONE_INTO_CGROUP: the shipped unit's RestrictNamespaces=yes makes clone3 fail with ENOSYS
    // (systemd cannot filter its flags), and glibc 2.36 exports no clone3 that takes a stack of
    // ours. The move's cost is in BENCHMARKS.md, "Per-service cgroups".
    if (request->cgroup_procs_fd >= 0 && write(request->cgroup_procs_fd, "0", 1) != 1)
        fail(child, RUNNERD_SPAWN_STAGE_CGROUP);
    // A table of our own first, before anything changes a descriptor: until then it is the
    // parent's. Only the slots and what lies below them come along (see spawn_lanes).
    if (syscall(SYS_close_range, (unsigned)highest_slot + 1, ~0U, CLOSE_RANGE_UNSHARE) < 0)
        fail(child, RUNNERD_SPAWN_STAGE_STDIO);
    if (setsid() < 0) fail(child, RUNNERD_SPAWN_STAGE_SESSION);

    if (dup2(slot_null, 0) < 0) fail(child, RUNNERD_SPAWN_STAGE_STDIO);
    if (dup2(child->lane->slot_stdout, 1) < 0) fail(child, RUNNERD_SPAWN_STAGE_STDIO);
    if (dup2(child->lane->slot_stderr, 2) < 0) fail(child, RUNNERD_SPAWN_STAGE_STDIO);
    // Nothing else: not the slots, and not a descriptor the daemon itself inherited without
    // close-on-exec. The table is small now, so this is cheap.
    if (syscall(SYS_close_range, 3U, ~0U, 0) < 0) fail(child, RUNNERD_SPAWN_STAGE_STDIO);

    // The limit the daemon was started with, as a unit's LimitNOFILE= gives it, not the one it
    // raised for its own pipes: a program that still uses select() breaks above 1024.
    if (children_open_files_set) syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &children_open_files, NULL);

    if (request->set_credentials) {
        if (syscall(SYS_setgroups, request->group_count, request->groups) < 0) fail(child, RUNNERD_SPAWN_STAGE_GROUPS);
        if (syscall(SYS_setgid, request->gid) < 0) fail(child, RUNNERD_SPAWN_STAGE_GID);
        if (syscall(SYS_setuid, request->uid) < 0) fail(child, RUNNERD_SPAWN_STAGE_UID);
    }

    // After the switch: the kernel clears the death signal whenever the uid or gid changes, so
    // armed before it, a service with user: or group: would outlive a SIGKILLed daemon.
    if (request->death_signal != 0) {
        if (prctl(PR_SET_PDEATHSIG, request->death_signal) < 0) fail(child, RUNNERD_SPAWN_STAGE_DEATH_SIGNAL);
        // The parent may have died before the death signal was armed: nothing would fire then.
        if (getppid() != child->parent) { errno = ESRCH; fail(child, RUNNERD_SPAWN_STAGE_DEATH_SIGNAL); }
    }

    // As the service's user, so that a directory the user cannot enter fails here, as it would
    // under systemd's WorkingDirectory=, rather than the program starting where root could go.
    if (request->working_directory != NULL && chdir(request->working_directory) < 0)
        fail(child, RUNNERD_SPAWN_STAGE_CHDIR);

    // Dispositions: SIG_IGN survives exec, so reset every signal; then unblock them all. The
    // child has a copy of the parent's handler table (no CLONE_SIGHAND), so this changes nothing
    // in the parent.
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
    fail(child, RUNNERD_SPAWN_STAGE_EXEC);
}

static int clone_child(const runnerd_spawn_request *request, const struct spawn_lane *lane, runnerd_spawn_result *result);
static void release_lane_slots(const struct spawn_lane *lane);

int runnerd_spawn(const runnerd_spawn_request *request, runnerd_spawn_result *result) {
    result->pid = 0;
    result->stage = RUNNERD_SPAWN_STAGE_NONE;
    result->error = 0;
    if (reserve_spawn_slots() != 0) {
        result->stage = RUNNERD_SPAWN_STAGE_STDIO;
        result->error = errno;
        return -1;
    }
    // The lane's slots and stack belong to one spawn at a time.
    struct spawn_lane *lane = take_lane();
    int status;
    if (dup3(request->stdout_fd, lane->slot_stdout, O_CLOEXEC) < 0
        || dup3(request->stderr_fd, lane->slot_stderr, O_CLOEXEC) < 0) {
        result->stage = RUNNERD_SPAWN_STAGE_STDIO;
        result->error = errno;
        status = -1;
    } else {
        status = clone_child(request, lane, result);
    }
    release_lane_slots(lane);
    pthread_mutex_unlock(&lane->lock);
    return status;
}

// Points the lane's stdout and stderr slots back at /dev/null, so that the parent holds no
// reference to the child's pipes (the reading end must see EOF once the child and its own exit).
static void release_lane_slots(const struct spawn_lane *lane) {
    dup3(slot_null, lane->slot_stdout, O_CLOEXEC);
    dup3(slot_null, lane->slot_stderr, O_CLOEXEC);
}

static int clone_child(const runnerd_spawn_request *request, const struct spawn_lane *lane, runnerd_spawn_result *result) {
    struct spawn_child child = {
        .request = request, .lane = lane, .parent = getpid(), .stage = RUNNERD_SPAWN_STAGE_NONE,
    };

    // No handler of the parent may run in the child: block everything until the child has reset
    // its dispositions.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    char *stack_top = (char *)lane->stack + sizeof lane->stack;
    pid_t pid = clone(run_child, stack_top, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &child);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);

    if (pid < 0) {
        result->stage = RUNNERD_SPAWN_STAGE_FORK;
        result->error = clone_error;
        return -1;
    }
    // CLONE_VFORK: the child has exec'd (success) or exited after recording its failure. A
    // failed child is reaped here, unless a waitpid(-1) of the caller's got to it first.
    if (child.stage != RUNNERD_SPAWN_STAGE_NONE) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        result->stage = child.stage;
        result->error = child.error;
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

int runnerd_accept_nonblocking(int listen_fd) {
    return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int runnerd_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}
