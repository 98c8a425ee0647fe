// CBPFSysEvents: what the event readers (ring buffer, perf buffer, trace pipe) need from C —
// acquire/release atomics on memory shared with the kernel, and epoll/eventfd without the
// packed `struct epoll_event` (whose layout Swift cannot express on x86_64).
#ifndef CBPFSYS_EVENTS_H
#define CBPFSYS_EVENTS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <errno.h>

// MARK: - Ordering on pages shared with the kernel
//
// The BPF ring buffer and the perf ring publish positions with smp_store_release and read them
// with smp_load_acquire (kernel/bpf/ringbuf.c, kernel/events/ring_buffer.c); user space must do
// the same so record bytes are visible before the position that covers them, and the kernel does
// not reuse space before we are done reading it.

static inline uint64_t sbpf_load_acquire_u64(const void *address) {
    return atomic_load_explicit((const _Atomic uint64_t *)address, memory_order_acquire);
}

static inline uint32_t sbpf_load_acquire_u32(const void *address) {
    return atomic_load_explicit((const _Atomic uint32_t *)address, memory_order_acquire);
}

static inline void sbpf_store_release_u64(void *address, uint64_t value) {
    atomic_store_explicit((_Atomic uint64_t *)address, value, memory_order_release);
}

/// A full barrier: the perf ring's data_head read must be ordered before the record reads
/// (the kernel documents rmb() after reading data_head; acquire gives that).
static inline void sbpf_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }

// MARK: - BPF ring buffer layout (include/uapi/linux/bpf.h)

#define SBPF_RINGBUF_BUSY_BIT    (1U << 31)
#define SBPF_RINGBUF_DISCARD_BIT (1U << 30)
#define SBPF_RINGBUF_HDR_SZ      8U

// MARK: - perf ring layout (include/uapi/linux/perf_event.h, struct perf_event_mmap_page)

#define SBPF_PERF_MMAP_DATA_HEAD_OFFSET   1024
#define SBPF_PERF_MMAP_DATA_TAIL_OFFSET   1032
#define SBPF_PERF_MMAP_DATA_OFFSET_OFFSET 1040
#define SBPF_PERF_MMAP_DATA_SIZE_OFFSET   1048

#define SBPF_PERF_TYPE_SOFTWARE          1U
#define SBPF_PERF_COUNT_SW_BPF_OUTPUT    10ULL
#define SBPF_PERF_SAMPLE_RAW             (1ULL << 10)
#define SBPF_PERF_FLAG_FD_CLOEXEC        (1UL << 3)
#define SBPF_PERF_RECORD_LOST            2U
#define SBPF_PERF_RECORD_SAMPLE          9U

// MARK: - epoll and eventfd

/// Registers `fd` for EPOLLIN, handing `token` back when it is ready.
static inline int sbpf_epoll_add(int epoll_fd, int fd, uint64_t token) {
    struct epoll_event event;
    event.events = EPOLLIN;
    event.data.u64 = token;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

static inline int sbpf_epoll_remove(int epoll_fd, int fd) {
    struct epoll_event event = {0};
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, &event);
}

/// epoll_wait(2) returning only the tokens of ready descriptors (at most 64 per call).
/// Returns the count, or -1 with errno set.
static inline int sbpf_epoll_wait_tokens(int epoll_fd, uint64_t *tokens, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int count = epoll_wait(epoll_fd, events, capacity, timeout_ms);
    for (int index = 0; index < count; index++) tokens[index] = events[index].data.u64;
    return count;
}

static inline int sbpf_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int sbpf_eventfd_create(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

#endif
