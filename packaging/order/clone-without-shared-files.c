// Loaded with LD_PRELOAD only while make-order-file.sh profiles runnerd under valgrind.
//
// runnerd spawns with clone(CLONE_VM | CLONE_VFORK | CLONE_FILES): the child shares the daemon's
// memory and descriptor table until it calls exec. Valgrind runs a clone of that kind only
// without CLONE_FILES (it then treats it as a fork) and otherwise stops the whole program. The
// child's first step unshares the table anyway, so without the flag it behaves the same; only
// its cost differs, and the profile does not measure cost.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/types.h>

typedef int (*clone_function)(int (*)(void *), void *, int, void *, ...);

int clone(int (*entry)(void *), void *stack, int flags, void *argument, ...) {
    static clone_function libc_clone;
    if (libc_clone == NULL)
        libc_clone = (clone_function)dlsym(RTLD_NEXT, "clone");
    va_list more;
    va_start(more, argument);
    pid_t *parent_tid = va_arg(more, pid_t *);
    void *tls = va_arg(more, void *);
    pid_t *child_tid = va_arg(more, pid_t *);
    va_end(more);
    if (flags & CLONE_VFORK)
        flags &= ~CLONE_FILES;
    return libc_clone(entry, stack, flags, argument, parent_tid, tls, child_tid);
}
