#define _GNU_SOURCE
#include "linux_support.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Room for the credentials and a few descriptors. A sender that passes more loses them: the kernel
// releases what does not fit and sets MSG_CTRUNC, which is what we would do with them anyway.
#define CONTROL_SIZE (CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16))

int runnerd_notify_receive(int socket_fd, void *buffer, size_t capacity, runnerd_notify_datagram *datagram) {
    memset(datagram, 0, sizeof *datagram);
    union {
        struct cmsghdr header;
        char bytes[CONTROL_SIZE];
    } control;
    struct iovec vector = { .iov_base = buffer, .iov_len = capacity };
    struct msghdr message = {
        .msg_iov = &vector,
        .msg_iovlen = 1,
        .msg_control = &control,
        .msg_controllen = sizeof control,
    };
    // MSG_CMSG_CLOEXEC: a child spawned on another thread before the close below must not inherit
    // a sender's descriptor.
    ssize_t count = recvmsg(socket_fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (count < 0) return -1;

    datagram->length = (size_t)count;
    datagram->truncated = (message.msg_flags & MSG_TRUNC) != 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET) continue;
        if (header->cmsg_type == SCM_CREDENTIALS && header->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred credentials;
            memcpy(&credentials, CMSG_DATA(header), sizeof credentials);
            datagram->has_credentials = 1;
            datagram->pid = credentials.pid;
            datagram->uid = credentials.uid;
            datagram->gid = credentials.gid;
        } else if (header->cmsg_type == SCM_RIGHTS) {
            size_t fd_count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t index = 0; index < fd_count; index++) {
                int fd;
                memcpy(&fd, CMSG_DATA(header) + index * sizeof(int), sizeof fd);
                close(fd);
                datagram->passed_fds++;
            }
        }
    }
    return 0;
}
