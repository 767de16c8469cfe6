#ifndef RUNNERD_LINUX_SUPPORT_H
#define RUNNERD_LINUX_SUPPORT_H

// The Linux interfaces runnerd needs that Swift's Glibc module does not show: fork and exec done
// safely for a multithreaded parent, epoll, eventfd, pipe2, statfs and getxattr, and receiving SCM_CREDENTIALS and
// SCM_RIGHTS with the CMSG macros.
#include <sys/types.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
// For the cgroup tree: statfs (is /sys/fs/cgroup cgroup v2?) and getxattr (did systemd delegate it?).
#include <sys/vfs.h>
#include <sys/xattr.h>

/// What runnerd_spawn does in the child, in order. Each step that fails reports its stage and
/// errno to the parent and ends the child with status 127; the parent turns that into a message.
typedef enum {
    RUNNERD_SPAWN_STAGE_NONE = 0,
    RUNNERD_SPAWN_STAGE_CGROUP = 10,       // first: the child joins its service's cgroup
    RUNNERD_SPAWN_STAGE_FORK = 1,
    RUNNERD_SPAWN_STAGE_SESSION = 2,
    RUNNERD_SPAWN_STAGE_STDIO = 4,
    RUNNERD_SPAWN_STAGE_GROUPS = 6,
    RUNNERD_SPAWN_STAGE_GID = 7,
    RUNNERD_SPAWN_STAGE_UID = 8,
    RUNNERD_SPAWN_STAGE_DEATH_SIGNAL = 3,  // after the user switch, which clears it
    RUNNERD_SPAWN_STAGE_CHDIR = 5,         // as the service's user
    RUNNERD_SPAWN_STAGE_EXEC = 9,
} runnerd_spawn_stage;

typedef struct {
    const char *path;               // the executable, absolute
    char *const *argv;              // NULL-terminated
    char *const *envp;              // NULL-terminated
    const char *working_directory;  // NULL: inherit
    int set_credentials;            // nonzero: apply groups, gid, uid below
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t group_count;
    int stdout_fd;                  // becomes the child's fd 1
    int stderr_fd;                  // becomes the child's fd 2
    int death_signal;               // PR_SET_PDEATHSIG; 0 for none
    int cgroup_procs_fd;            // the service cgroup's cgroup.procs, open for writing; -1 for none
} runnerd_spawn_request;

typedef struct {
    pid_t pid;                      // the child, when the spawn succeeded
    int stage;                      // a runnerd_spawn_stage, NONE on success
    int error;                      // errno of the failed stage
} runnerd_spawn_result;

/// Starts a child (in the cgroup whose cgroup.procs is request->cgroup_procs_fd, if not -1) in a new session (so it leads its own process group) with stdin on /dev/null,
/// all signals unblocked and at their default dispositions, and then execs the request's program.
/// The child gets its stdin, stdout and stderr and no other descriptor.
/// Returns 0 once the exec has succeeded, or -1 with result->stage and result->error set; a child
/// that failed is already reaped when this returns.
///
/// The child is started with clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: it borrows the
/// parent's memory until its exec, so a spawn costs the same however large the daemon is, and the
/// calling thread is suspended until the child has exec'd or failed. Signals are blocked in the
/// calling thread meanwhile, so that no handler of the parent ever runs in the child. The death
/// signal is tied to the calling thread: call this from a thread that lives as long as the
/// children should. Two threads can spawn at once; a third waits for one of them.
int runnerd_spawn(const runnerd_spawn_request *request, runnerd_spawn_result *result);

/// Reserves the five low descriptors that runnerd_spawn passes a child's stdio through (/dev/null,
/// and stdout and stderr for each of two concurrent spawns), so that a child gets a descriptor
/// table of its own without a copy of the parent's (see the .c file). A spawn reserves them itself
/// if this was not called; calling it early, before the daemon opens its pipes, keeps the slots
/// low and each spawn's cost independent of the number of services.
/// Later calls do nothing.
void runnerd_reserve_spawn_slots(void);

/// Raises the soft limit on open files to the hard one (under systemd, 1024 and 524288 by
/// default): the daemon holds two pipes per service, so a soft limit of 1024 stops it at about
/// 500 services. Children spawned afterwards get the soft limit back as it was. Call it once,
/// before the first spawn. Returns 0, or -1 with errno.
int runnerd_raise_open_files_limit(void);

/// Makes the calling process a child subreaper: orphaned descendants are re-parented to it.
int runnerd_become_subreaper(void);

/// pipe2(fds, O_CLOEXEC), which Swift cannot see without _GNU_SOURCE.
int runnerd_pipe_cloexec(int fds[2]);

/// accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), which Swift cannot see without _GNU_SOURCE.
int runnerd_accept_nonblocking(int listen_fd);

/// The credentials of a connected unix socket's peer (SO_PERCRED), as the kernel took them at
/// connect time. Returns 0, or -1 with errno.
int runnerd_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/// One datagram received from a notify socket by runnerd_notify_receive.
typedef struct {
    size_t length;                  // payload bytes stored in the buffer
    int truncated;                  // nonzero: the datagram was longer than the buffer (MSG_TRUNC)
    int has_credentials;            // nonzero: SCM_CREDENTIALS came with it (always, with SO_PASSCRED)
    pid_t pid;                      // the sender, as the kernel attests it in the receiver's pid namespace
    uid_t uid;
    gid_t gid;
    int passed_fds;                 // file descriptors that came with it (SCM_RIGHTS), all already closed
} runnerd_notify_datagram;

/// Receives one datagram from `socket_fd` without blocking, and reads its SCM_CREDENTIALS.
/// Returns 0, or -1 with errno (EAGAIN when nothing is queued).
///
/// Every file descriptor passed with the datagram is closed before this returns, whatever the
/// sender meant by it: a relay keeps none, and closing is exactly what a BARRIER=1 asks for.
/// Descriptors that did not fit the control buffer are released by the kernel (MSG_CTRUNC).
int runnerd_notify_receive(int socket_fd, void *buffer, size_t capacity, runnerd_notify_datagram *datagram);

#endif
