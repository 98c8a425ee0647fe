// CBPFSys: the few things Swift cannot do itself — the variadic syscall(2) for bpf() and
// perf_event_open(), ioctl(2) — and the kernel's UAPI record layouts for them.
//
// The layouts are our own definitions of the kernel ABI (include/uapi/linux/bpf.h and
// perf_event.h). We define one record per bpf() command instead of the kernel's big
// `union bpf_attr`: the kernel accepts any size up to its own and treats missing tail bytes as
// zero, so a per-command record is both smaller and typed. We do not include the system's
// <linux/bpf.h>, whose age varies with the distribution.
#ifndef CBPFSYS_H
#define CBPFSYS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "CBPFSysEvents.h"
#include "CBPFSysGzip.h"

#define SBPF_ALIGNED_U64 uint64_t __attribute__((aligned(8)))

// MARK: - bpf() syscall and friends

/// bpf(2). Returns the raw result; on failure -1 with errno set.
long sbpf_bpf(int cmd, void *attr, unsigned int size);
/// perf_event_open(2).
int sbpf_perf_event_open(void *attr, pid_t pid, int cpu, int group_fd, unsigned long flags);
/// ioctl(2) with an integer argument.
int sbpf_ioctl_int(int fd, unsigned long request, unsigned long arg);
/// ioctl(2) with a pointer argument.
int sbpf_ioctl_ptr(int fd, unsigned long request, void *arg);
/// The errno of the calling thread (Swift's `errno` is fine too; this is for C callers' symmetry).
int sbpf_errno(void);
/// setns(2), which Glibc does not export to Swift: moves the calling thread into the namespace
/// behind `fd` (`nstype` CLONE_NEWNET = 0x40000000 for network namespaces).
int sbpf_setns(int fd, int nstype);
/// pidfd_open(2) (Linux 5.3): a descriptor for process `pid`, the key of task-storage maps.
int sbpf_pidfd_open(pid_t pid, unsigned int flags);
/// statfs(2)'s f_type for `path` (e.g. BPF_FS_MAGIC 0xcafe4a11), or -1 with errno set.
long sbpf_filesystem_type(const char *path);

// perf_event ioctls (include/uapi/linux/perf_event.h).
#define SBPF_PERF_EVENT_IOC_ENABLE      0x2400UL
#define SBPF_PERF_EVENT_IOC_DISABLE     0x2401UL
#define SBPF_PERF_EVENT_IOC_SET_BPF     0x40042408UL
#define SBPF_PERF_EVENT_IOC_ID          0x80082407UL

// MARK: - Per-command attribute records (union bpf_attr members)

/// BPF_MAP_CREATE
struct sbpf_map_create_attr {
    uint32_t map_type;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t map_flags;
    uint32_t inner_map_fd;
    uint32_t numa_node;
    char map_name[16];
    uint32_t map_ifindex;
    uint32_t btf_fd;
    uint32_t btf_key_type_id;
    uint32_t btf_value_type_id;
    uint32_t btf_vmlinux_value_type_id;
    SBPF_ALIGNED_U64 map_extra;
    int32_t value_type_btf_obj_fd;
    int32_t map_token_fd;
};

/// BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY,
/// BPF_MAP_LOOKUP_AND_DELETE_ELEM, BPF_MAP_FREEZE. `value` doubles as `next_key`.
struct sbpf_map_elem_attr {
    uint32_t map_fd;
    SBPF_ALIGNED_U64 key;
    SBPF_ALIGNED_U64 value;
    SBPF_ALIGNED_U64 flags;
};

/// BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH, BPF_MAP_UPDATE_BATCH, BPF_MAP_DELETE_BATCH
struct sbpf_map_batch_attr {
    SBPF_ALIGNED_U64 in_batch;
    SBPF_ALIGNED_U64 out_batch;
    SBPF_ALIGNED_U64 keys;
    SBPF_ALIGNED_U64 values;
    uint32_t count;
    uint32_t map_fd;
    SBPF_ALIGNED_U64 elem_flags;
    SBPF_ALIGNED_U64 flags;
};

/// BPF_PROG_LOAD
struct sbpf_prog_load_attr {
    uint32_t prog_type;
    uint32_t insn_cnt;
    SBPF_ALIGNED_U64 insns;
    SBPF_ALIGNED_U64 license;
    uint32_t log_level;
    uint32_t log_size;
    SBPF_ALIGNED_U64 log_buf;
    uint32_t kern_version;
    uint32_t prog_flags;
    char prog_name[16];
    uint32_t prog_ifindex;
    uint32_t expected_attach_type;
    uint32_t prog_btf_fd;
    uint32_t func_info_rec_size;
    SBPF_ALIGNED_U64 func_info;
    uint32_t func_info_cnt;
    uint32_t line_info_rec_size;
    SBPF_ALIGNED_U64 line_info;
    uint32_t line_info_cnt;
    uint32_t attach_btf_id;
    uint32_t attach_prog_fd; // also attach_btf_obj_fd
    uint32_t core_relo_cnt;
    SBPF_ALIGNED_U64 fd_array;
    SBPF_ALIGNED_U64 core_relos;
    uint32_t core_relo_rec_size;
    uint32_t log_true_size;
    int32_t prog_token_fd;
    uint32_t fd_array_cnt; // 6.14+; also keeps the tail zeroed, see sbpf_obj_attr
};

/// BPF_OBJ_PIN, BPF_OBJ_GET
struct sbpf_obj_attr {
    SBPF_ALIGNED_U64 pathname;
    uint32_t bpf_fd;
    uint32_t file_flags;
    int32_t path_fd;
    // Named so that Swift's zeroing init() clears it: the kernel refuses non-zero bytes past
    // the command's last field (CHECK_ATTR), and tail padding is not zeroed in optimised
    // builds (BPF_OBJ_GET/PIN failed with EINVAL now and then in release builds).
    uint32_t _tail_zero;
};

/// BPF_PROG_ATTACH, BPF_PROG_DETACH
struct sbpf_prog_attach_attr {
    uint32_t target_fd; // also target_ifindex
    uint32_t attach_bpf_fd;
    uint32_t attach_type;
    uint32_t attach_flags;
    uint32_t replace_bpf_fd;
    uint32_t relative_fd; // also relative_id
    SBPF_ALIGNED_U64 expected_revision;
};

/// BPF_PROG_TEST_RUN
struct sbpf_prog_test_run_attr {
    uint32_t prog_fd;
    uint32_t retval;
    uint32_t data_size_in;
    uint32_t data_size_out;
    SBPF_ALIGNED_U64 data_in;
    SBPF_ALIGNED_U64 data_out;
    uint32_t repeat;
    uint32_t duration;
    uint32_t ctx_size_in;
    uint32_t ctx_size_out;
    SBPF_ALIGNED_U64 ctx_in;
    SBPF_ALIGNED_U64 ctx_out;
    uint32_t flags;
    uint32_t cpu;
    uint32_t batch_size;
    uint32_t _tail_zero; // zeroed tail, see sbpf_obj_attr
};

/// BPF_PROG_GET_NEXT_ID, BPF_MAP_GET_NEXT_ID, BPF_BTF_GET_NEXT_ID, BPF_LINK_GET_NEXT_ID and the
/// matching *_GET_FD_BY_ID commands (`start_id` is also prog_id/map_id/btf_id/link_id).
struct sbpf_get_id_attr {
    uint32_t start_id;
    uint32_t next_id;
    uint32_t open_flags;
};

/// BPF_OBJ_GET_INFO_BY_FD
struct sbpf_info_attr {
    uint32_t bpf_fd;
    uint32_t info_len;
    SBPF_ALIGNED_U64 info;
};

/// BPF_PROG_QUERY
struct sbpf_prog_query_attr {
    uint32_t target_fd; // also target_ifindex
    uint32_t attach_type;
    uint32_t query_flags;
    uint32_t attach_flags;
    SBPF_ALIGNED_U64 prog_ids;
    uint32_t prog_cnt; // also count
    uint32_t _pad;
    SBPF_ALIGNED_U64 prog_attach_flags;
    SBPF_ALIGNED_U64 link_ids;
    SBPF_ALIGNED_U64 link_attach_flags;
    SBPF_ALIGNED_U64 revision;
};

/// BPF_RAW_TRACEPOINT_OPEN
struct sbpf_raw_tracepoint_attr {
    SBPF_ALIGNED_U64 name;
    uint32_t prog_fd;
    uint32_t _pad;
    SBPF_ALIGNED_U64 cookie;
};

/// BPF_BTF_LOAD
struct sbpf_btf_load_attr {
    SBPF_ALIGNED_U64 btf;
    SBPF_ALIGNED_U64 btf_log_buf;
    uint32_t btf_size;
    uint32_t btf_log_size;
    uint32_t btf_log_level;
    uint32_t btf_log_true_size;
    uint32_t btf_flags;
    int32_t btf_token_fd;
};

/// BPF_LINK_CREATE. The attach-kind specific tail is a union in the kernel; we give its members
/// as separate records (`sbpf_link_create_*`) laid over `tail`.
struct sbpf_link_create_attr {
    uint32_t prog_fd; // also map_fd
    uint32_t target_fd; // also target_ifindex
    uint32_t attach_type;
    uint32_t flags;
    union {
        uint32_t target_btf_id;
        struct {
            SBPF_ALIGNED_U64 iter_info;
            uint32_t iter_info_len;
        } iter;
        struct {
            SBPF_ALIGNED_U64 bpf_cookie;
        } perf_event;
        struct {
            uint32_t flags;
            uint32_t cnt;
            SBPF_ALIGNED_U64 syms;
            SBPF_ALIGNED_U64 addrs;
            SBPF_ALIGNED_U64 cookies;
        } kprobe_multi;
        struct {
            uint32_t target_btf_id;
            uint32_t _pad;
            SBPF_ALIGNED_U64 cookie;
        } tracing;
        struct {
            uint32_t pf;
            uint32_t hooknum;
            int32_t priority;
            uint32_t flags;
        } netfilter;
        struct {
            uint32_t relative_fd; // also relative_id
            uint32_t _pad;
            SBPF_ALIGNED_U64 expected_revision;
        } tcx;
        struct {
            SBPF_ALIGNED_U64 path;
            SBPF_ALIGNED_U64 offsets;
            SBPF_ALIGNED_U64 ref_ctr_offsets;
            SBPF_ALIGNED_U64 cookies;
            uint32_t cnt;
            uint32_t flags;
            uint32_t pid;
        } uprobe_multi;
        uint64_t raw[8];
    } tail;
};

/// BPF_LINK_UPDATE
struct sbpf_link_update_attr {
    uint32_t link_fd;
    uint32_t new_prog_fd; // also new_map_fd
    uint32_t flags;
    uint32_t old_prog_fd; // also old_map_fd
};

/// BPF_LINK_DETACH, BPF_ITER_CREATE (`flags` unused by detach)
struct sbpf_link_fd_attr {
    uint32_t link_fd;
    uint32_t flags;
};

/// BPF_ENABLE_STATS
struct sbpf_enable_stats_attr {
    uint32_t type;
};

/// BPF_PROG_BIND_MAP
struct sbpf_prog_bind_map_attr {
    uint32_t prog_fd;
    uint32_t map_fd;
    uint32_t flags;
};

// MARK: - Object info records (BPF_OBJ_GET_INFO_BY_FD)

struct sbpf_prog_info {
    uint32_t type;
    uint32_t id;
    uint8_t tag[8];
    uint32_t jited_prog_len;
    uint32_t xlated_prog_len;
    SBPF_ALIGNED_U64 jited_prog_insns;
    SBPF_ALIGNED_U64 xlated_prog_insns;
    uint64_t load_time; // ns since boot
    uint32_t created_by_uid;
    uint32_t nr_map_ids;
    SBPF_ALIGNED_U64 map_ids;
    char name[16];
    uint32_t ifindex;
    uint32_t gpl_compatible_flags; // bit 0: gpl_compatible
    uint64_t netns_dev;
    uint64_t netns_ino;
    uint32_t nr_jited_ksyms;
    uint32_t nr_jited_func_lens;
    SBPF_ALIGNED_U64 jited_ksyms;
    SBPF_ALIGNED_U64 jited_func_lens;
    uint32_t btf_id;
    uint32_t func_info_rec_size;
    SBPF_ALIGNED_U64 func_info;
    uint32_t nr_func_info;
    uint32_t nr_line_info;
    SBPF_ALIGNED_U64 line_info;
    SBPF_ALIGNED_U64 jited_line_info;
    uint32_t nr_jited_line_info;
    uint32_t line_info_rec_size;
    uint32_t jited_line_info_rec_size;
    uint32_t nr_prog_tags;
    SBPF_ALIGNED_U64 prog_tags;
    uint64_t run_time_ns;
    uint64_t run_cnt;
    uint64_t recursion_misses;
    uint32_t verified_insns;
    uint32_t attach_btf_obj_id;
    uint32_t attach_btf_id;
    uint32_t _pad;
} __attribute__((aligned(8)));

struct sbpf_map_info {
    uint32_t type;
    uint32_t id;
    uint32_t key_size;
    uint32_t value_size;
    uint32_t max_entries;
    uint32_t map_flags;
    char name[16];
    uint32_t ifindex;
    uint32_t btf_vmlinux_value_type_id;
    uint64_t netns_dev;
    uint64_t netns_ino;
    uint32_t btf_id;
    uint32_t btf_key_type_id;
    uint32_t btf_value_type_id;
    uint32_t btf_vmlinux_id;
    uint64_t map_extra;
} __attribute__((aligned(8)));

struct sbpf_btf_info {
    SBPF_ALIGNED_U64 btf;
    uint32_t btf_size;
    uint32_t id;
    SBPF_ALIGNED_U64 name;
    uint32_t name_len;
    uint32_t kernel_btf;
} __attribute__((aligned(8)));

/// bpf_link_info: a common head and a type-specific union; decode `tail` by `type`.
struct sbpf_link_info {
    uint32_t type;
    uint32_t id;
    uint32_t prog_id;
    uint32_t _pad;
    uint64_t tail[10];
} __attribute__((aligned(8)));

// MARK: - perf_event_open

/// struct perf_event_attr (PERF_ATTR_SIZE_VER8 = 136 bytes). The kernel's bitfield word is
/// `flags` here; see the SBPF_PERF_FLAG_* bit numbers.
struct sbpf_perf_event_attr {
    uint32_t type;
    uint32_t size;
    uint64_t config;
    uint64_t sample_period; // also sample_freq when SBPF_PERF_FLAG_FREQ
    uint64_t sample_type;
    uint64_t read_format;
    uint64_t flags;
    uint32_t wakeup_events; // also wakeup_watermark
    uint32_t bp_type;
    uint64_t config1; // also bp_addr, kprobe_func, uprobe_path
    uint64_t config2; // also bp_len, kprobe_addr, probe_offset
    uint64_t branch_sample_type;
    uint64_t sample_regs_user;
    uint32_t sample_stack_user;
    int32_t clockid;
    uint64_t sample_regs_intr;
    uint32_t aux_watermark;
    uint16_t sample_max_stack;
    uint16_t _reserved_2;
    uint32_t aux_sample_size;
    uint32_t _reserved_3;
    uint64_t sig_data;
    uint64_t config3;
};

#define SBPF_PERF_FLAG_DISABLED       (1ULL << 0)
#define SBPF_PERF_FLAG_INHERIT        (1ULL << 1)
#define SBPF_PERF_FLAG_EXCLUDE_USER   (1ULL << 4)
#define SBPF_PERF_FLAG_EXCLUDE_KERNEL (1ULL << 5)
#define SBPF_PERF_FLAG_EXCLUDE_HV     (1ULL << 6)
#define SBPF_PERF_FLAG_FREQ           (1ULL << 10)
#define SBPF_PERF_FLAG_WATERMARK      (1ULL << 14)
#define SBPF_PERF_FLAG_SAMPLE_ID_ALL  (1ULL << 18)

_Static_assert(sizeof(struct sbpf_obj_attr) == offsetof(struct sbpf_obj_attr, _tail_zero) + 4, "no unnamed tail padding");
_Static_assert(sizeof(struct sbpf_prog_test_run_attr) == offsetof(struct sbpf_prog_test_run_attr, _tail_zero) + 4, "no unnamed tail padding");
_Static_assert(sizeof(struct sbpf_prog_load_attr) == offsetof(struct sbpf_prog_load_attr, fd_array_cnt) + 4, "no unnamed tail padding");
_Static_assert(sizeof(struct sbpf_perf_event_attr) == 136, "perf_event_attr VER8 is 136 bytes");
_Static_assert(offsetof(struct sbpf_map_create_attr, map_extra) == 64, "map_extra offset");
_Static_assert(offsetof(struct sbpf_prog_load_attr, fd_array) == 120, "fd_array offset");
_Static_assert(offsetof(struct sbpf_link_create_attr, tail) == 16, "link_create union offset");
_Static_assert(offsetof(struct sbpf_map_info, map_extra) == 80, "map_info map_extra offset");
_Static_assert(offsetof(struct sbpf_prog_info, verified_insns) == 216, "prog_info verified_insns");

#endif
