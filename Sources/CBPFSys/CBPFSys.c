#define _GNU_SOURCE
#include "CBPFSys.h"
#include <errno.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

long sbpf_bpf(int cmd, void *attr, unsigned int size) {
    return syscall(__NR_bpf, cmd, attr, size);
}

int sbpf_perf_event_open(void *attr, pid_t pid, int cpu, int group_fd, unsigned long flags) {
    return (int)syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags);
}

int sbpf_ioctl_int(int fd, unsigned long request, unsigned long arg) {
    return ioctl(fd, request, arg);
}

int sbpf_ioctl_ptr(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}

int sbpf_errno(void) { return errno; }

int sbpf_setns(int fd, int nstype) { return setns(fd, nstype); }
int sbpf_pidfd_open(pid_t pid, unsigned int flags) {
#ifdef __NR_pidfd_open
    return (int)syscall(__NR_pidfd_open, pid, flags);
#else
    return (int)syscall(434, pid, flags); /* same number on every architecture */
#endif
}

long sbpf_filesystem_type(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return (long)info.f_type;
}
