// A notify client for the relay's tests, written against the socket API alone (no libsystemd), as
// a program of someone else's would be: it sends one sd_notify datagram to $NOTIFY_SOCKET.
//
//   notify-client [-n COUNT] [--setpgid | --setsid] [--no-barrier] LINE...
//
// The LINEs, joined by newlines, make the datagram; "%p" in a line becomes the sending process's
// pid. -n sends it COUNT times. --setpgid and --setsid send from a forked child that first moved
// to a process group, or a session, of its own; the parent waits for it and exits as it did.
// Afterwards it sends BARRIER=1 with one end of a pipe and waits (5 s at most) until the receiver
// closes it, as sd_notify_barrier does, so that the sender is still alive while the receiver
// reads the messages before it. Exit status: 0 sent (and acknowledged), 2 usage, 3 send failed,
// 4 no acknowledgement in time.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int connect_socket(void) {
    const char *address = getenv("NOTIFY_SOCKET");
    if (address == NULL || (address[0] != '/' && address[0] != '@')) {
        fprintf(stderr, "notify-client: NOTIFY_SOCKET is not set to a path or @name\n");
        exit(2);
    }
    struct sockaddr_un storage = { .sun_family = AF_UNIX };
    size_t length = strlen(address);
    if (length >= sizeof storage.sun_path + (address[0] == '@')) {
        fprintf(stderr, "notify-client: NOTIFY_SOCKET is too long\n");
        exit(2);
    }
    memcpy(storage.sun_path, address, length);
    socklen_t size = offsetof(struct sockaddr_un, sun_path) + length;
    if (address[0] == '@') storage.sun_path[0] = 0;
    else size += 1;

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&storage, size) < 0) {
        fprintf(stderr, "notify-client: cannot connect to %s: %s\n", address, strerror(errno));
        exit(3);
    }
    return fd;
}

static void send_datagram(int fd, const char *text, int passed_fd) {
    struct iovec vector = { .iov_base = (void *)text, .iov_len = strlen(text) };
    union {
        struct cmsghdr header;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1 };
    if (passed_fd >= 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = &control;
        message.msg_controllen = sizeof control;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &passed_fd, sizeof(int));
    }
    if (sendmsg(fd, &message, MSG_NOSIGNAL) < 0) {
        fprintf(stderr, "notify-client: sendmsg failed: %s\n", strerror(errno));
        exit(3);
    }
}

static char *build_datagram(int count, char **lines) {
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    size_t capacity = 1;
    for (int index = 0; index < count; index++) capacity += strlen(lines[index]) * (1 + strlen(pid)) + 1;
    char *text = calloc(1, capacity);
    char *end = text;
    for (int index = 0; index < count; index++) {
        if (index > 0) *end++ = '\n';
        for (const char *cursor = lines[index]; *cursor; cursor++) {
            if (cursor[0] == '%' && cursor[1] == 'p') {
                end = stpcpy(end, pid);
                cursor++;
            } else {
                *end++ = *cursor;
            }
        }
    }
    return text;
}

static int run(int repeat, int barrier, int line_count, char **lines) {
    int fd = connect_socket();
    char *text = build_datagram(line_count, lines);
    for (int index = 0; index < repeat; index++) send_datagram(fd, text, -1);
    free(text);
    if (!barrier) return 0;

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0) return 3;
    send_datagram(fd, "BARRIER=1", pipe_fds[1]);
    close(pipe_fds[1]);
    struct pollfd poller = { .fd = pipe_fds[0], .events = 0 };
    int ready = poll(&poller, 1, 5000);
    return ready == 1 && (poller.revents & POLLHUP) ? 0 : 4;
}

int main(int argc, char **argv) {
    int repeat = 1, barrier = 1, setpgid_child = 0, setsid_child = 0, index = 1;
    for (; index < argc && strncmp(argv[index], "-", 1) == 0; index++) {
        if (strcmp(argv[index], "-n") == 0 && index + 1 < argc) repeat = atoi(argv[++index]);
        else if (strcmp(argv[index], "--setpgid") == 0) setpgid_child = 1;
        else if (strcmp(argv[index], "--setsid") == 0) setsid_child = 1;
        else if (strcmp(argv[index], "--no-barrier") == 0) barrier = 0;
        else {
            fprintf(stderr, "usage: notify-client [-n COUNT] [--setpgid | --setsid] [--no-barrier] LINE...\n");
            return 2;
        }
    }
    if (!setpgid_child && !setsid_child) return run(repeat, barrier, argc - index, argv + index);

    pid_t child = fork();
    if (child < 0) return 3;
    if (child == 0) {
        if (setsid_child ? setsid() < 0 : setpgid(0, 0) < 0) _exit(3);
        _exit(run(repeat, barrier, argc - index, argv + index));
    }
    int status = 0;
    if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status)) return 3;
    return WEXITSTATUS(status);
}
