/// Kernel helper functions by id: `enum bpf_func_id` from include/uapi/linux/bpf.h
/// (`___BPF_FUNC_MAPPER`, ids 0 through 211; the list is frozen, new kernel functionality comes
/// as kfuncs).
///
/// The cases and `HelperFunction.kernelNames` were generated from the header's
/// `FN(name, id, ...)` lines: each case is the kernel name without `bpf_` in lowerCamelCase, so
/// `bpf_get_current_pid_tgid` is `.getCurrentPidTgid`. A test checks that both agree.
public enum HelperFunction: Int32, CaseIterable, Sendable {
    case unspec = 0
    case mapLookupElem = 1
    case mapUpdateElem = 2
    case mapDeleteElem = 3
    case probeRead = 4
    case ktimeGetNs = 5
    case tracePrintk = 6
    case getPrandomU32 = 7
    case getSmpProcessorId = 8
    case skbStoreBytes = 9
    case l3CsumReplace = 10
    case l4CsumReplace = 11
    case tailCall = 12
    case cloneRedirect = 13
    case getCurrentPidTgid = 14
    case getCurrentUidGid = 15
    case getCurrentComm = 16
    case getCgroupClassid = 17
    case skbVlanPush = 18
    case skbVlanPop = 19
    case skbGetTunnelKey = 20
    case skbSetTunnelKey = 21
    case perfEventRead = 22
    case redirect = 23
    case getRouteRealm = 24
    case perfEventOutput = 25
    case skbLoadBytes = 26
    case getStackid = 27
    case csumDiff = 28
    case skbGetTunnelOpt = 29
    case skbSetTunnelOpt = 30
    case skbChangeProto = 31
    case skbChangeType = 32
    case skbUnderCgroup = 33
    case getHashRecalc = 34
    case getCurrentTask = 35
    case probeWriteUser = 36
    case currentTaskUnderCgroup = 37
    case skbChangeTail = 38
    case skbPullData = 39
    case csumUpdate = 40
    case setHashInvalid = 41
    case getNumaNodeId = 42
    case skbChangeHead = 43
    case xdpAdjustHead = 44
    case probeReadStr = 45
    case getSocketCookie = 46
    case getSocketUid = 47
    case setHash = 48
    case setsockopt = 49
    case skbAdjustRoom = 50
    case redirectMap = 51
    case skRedirectMap = 52
    case sockMapUpdate = 53
    case xdpAdjustMeta = 54
    case perfEventReadValue = 55
    case perfProgReadValue = 56
    case getsockopt = 57
    case overrideReturn = 58
    case sockOpsCbFlagsSet = 59
    case msgRedirectMap = 60
    case msgApplyBytes = 61
    case msgCorkBytes = 62
    case msgPullData = 63
    case bind = 64
    case xdpAdjustTail = 65
    case skbGetXfrmState = 66
    case getStack = 67
    case skbLoadBytesRelative = 68
    case fibLookup = 69
    case sockHashUpdate = 70
    case msgRedirectHash = 71
    case skRedirectHash = 72
    case lwtPushEncap = 73
    case lwtSeg6StoreBytes = 74
    case lwtSeg6AdjustSrh = 75
    case lwtSeg6Action = 76
    case rcRepeat = 77
    case rcKeydown = 78
    case skbCgroupId = 79
    case getCurrentCgroupId = 80
    case getLocalStorage = 81
    case skSelectReuseport = 82
    case skbAncestorCgroupId = 83
    case skLookupTcp = 84
    case skLookupUdp = 85
    case skRelease = 86
    case mapPushElem = 87
    case mapPopElem = 88
    case mapPeekElem = 89
    case msgPushData = 90
    case msgPopData = 91
    case rcPointerRel = 92
    case spinLock = 93
    case spinUnlock = 94
    case skFullsock = 95
    case tcpSock = 96
    case skbEcnSetCe = 97
    case getListenerSock = 98
    case skcLookupTcp = 99
    case tcpCheckSyncookie = 100
    case sysctlGetName = 101
    case sysctlGetCurrentValue = 102
    case sysctlGetNewValue = 103
    case sysctlSetNewValue = 104
    case strtol = 105
    case strtoul = 106
    case skStorageGet = 107
    case skStorageDelete = 108
    case sendSignal = 109
    case tcpGenSyncookie = 110
    case skbOutput = 111
    case probeReadUser = 112
    case probeReadKernel = 113
    case probeReadUserStr = 114
    case probeReadKernelStr = 115
    case tcpSendAck = 116
    case sendSignalThread = 117
    case jiffies64 = 118
    case readBranchRecords = 119
    case getNsCurrentPidTgid = 120
    case xdpOutput = 121
    case getNetnsCookie = 122
    case getCurrentAncestorCgroupId = 123
    case skAssign = 124
    case ktimeGetBootNs = 125
    case seqPrintf = 126
    case seqWrite = 127
    case skCgroupId = 128
    case skAncestorCgroupId = 129
    case ringbufOutput = 130
    case ringbufReserve = 131
    case ringbufSubmit = 132
    case ringbufDiscard = 133
    case ringbufQuery = 134
    case csumLevel = 135
    case skcToTcp6Sock = 136
    case skcToTcpSock = 137
    case skcToTcpTimewaitSock = 138
    case skcToTcpRequestSock = 139
    case skcToUdp6Sock = 140
    case getTaskStack = 141
    case loadHdrOpt = 142
    case storeHdrOpt = 143
    case reserveHdrOpt = 144
    case inodeStorageGet = 145
    case inodeStorageDelete = 146
    case dPath = 147
    case copyFromUser = 148
    case snprintfBtf = 149
    case seqPrintfBtf = 150
    case skbCgroupClassid = 151
    case redirectNeigh = 152
    case perCpuPtr = 153
    case thisCpuPtr = 154
    case redirectPeer = 155
    case taskStorageGet = 156
    case taskStorageDelete = 157
    case getCurrentTaskBtf = 158
    case bprmOptsSet = 159
    case ktimeGetCoarseNs = 160
    case imaInodeHash = 161
    case sockFromFile = 162
    case checkMtu = 163
    case forEachMapElem = 164
    case snprintf = 165
    case sysBpf = 166
    case btfFindByNameKind = 167
    case sysClose = 168
    case timerInit = 169
    case timerSetCallback = 170
    case timerStart = 171
    case timerCancel = 172
    case getFuncIp = 173
    case getAttachCookie = 174
    case taskPtRegs = 175
    case getBranchSnapshot = 176
    case traceVprintk = 177
    case skcToUnixSock = 178
    case kallsymsLookupName = 179
    case findVma = 180
    case loop = 181
    case strncmp = 182
    case getFuncArg = 183
    case getFuncRet = 184
    case getFuncArgCnt = 185
    case getRetval = 186
    case setRetval = 187
    case xdpGetBuffLen = 188
    case xdpLoadBytes = 189
    case xdpStoreBytes = 190
    case copyFromUserTask = 191
    case skbSetTstamp = 192
    case imaFileHash = 193
    case kptrXchg = 194
    case mapLookupPercpuElem = 195
    case skcToMptcpSock = 196
    case dynptrFromMem = 197
    case ringbufReserveDynptr = 198
    case ringbufSubmitDynptr = 199
    case ringbufDiscardDynptr = 200
    case dynptrRead = 201
    case dynptrWrite = 202
    case dynptrData = 203
    case tcpRawGenSyncookieIpv4 = 204
    case tcpRawGenSyncookieIpv6 = 205
    case tcpRawCheckSyncookieIpv4 = 206
    case tcpRawCheckSyncookieIpv6 = 207
    case ktimeGetTaiNs = 208
    case userRingbufDrain = 209
    case cgrpStorageGet = 210
    case cgrpStorageDelete = 211

    /// The kernel's name, exactly as `bpftool` and the verifier print it: `bpf_map_lookup_elem`.
    public var kernelName: String { HelperFunction.kernelNames[Int(rawValue)] }

    /// The helper with this id, or nil when the id is not a helper (e.g. a rewritten call in a
    /// kernel-translated program).
    public init?(id: Int32) { self.init(rawValue: id) }

    /// Looks a helper up by its kernel name; the `bpf_` prefix is optional
    /// (`"bpf_map_lookup_elem"` or `"map_lookup_elem"`).
    public init?(kernelName: String) {
        let full = kernelName.hasPrefix("bpf_") ? kernelName : "bpf_" + kernelName
        guard let id = HelperFunction.idsByKernelName[full] else { return nil }
        self.init(rawValue: id)
    }

    private static let idsByKernelName: [String: Int32] = {
        var ids: [String: Int32] = [:]
        for (id, name) in kernelNames.enumerated() { ids[name] = Int32(id) }
        return ids
    }()

    /// Kernel names indexed by helper id (one line per helper: name, then id).
    public static let kernelNames: [String] = [
        "bpf_unspec", // 0
        "bpf_map_lookup_elem", // 1
        "bpf_map_update_elem", // 2
        "bpf_map_delete_elem", // 3
        "bpf_probe_read", // 4
        "bpf_ktime_get_ns", // 5
        "bpf_trace_printk", // 6
        "bpf_get_prandom_u32", // 7
        "bpf_get_smp_processor_id", // 8
        "bpf_skb_store_bytes", // 9
        "bpf_l3_csum_replace", // 10
        "bpf_l4_csum_replace", // 11
        "bpf_tail_call", // 12
        "bpf_clone_redirect", // 13
        "bpf_get_current_pid_tgid", // 14
        "bpf_get_current_uid_gid", // 15
        "bpf_get_current_comm", // 16
        "bpf_get_cgroup_classid", // 17
        "bpf_skb_vlan_push", // 18
        "bpf_skb_vlan_pop", // 19
        "bpf_skb_get_tunnel_key", // 20
        "bpf_skb_set_tunnel_key", // 21
        "bpf_perf_event_read", // 22
        "bpf_redirect", // 23
        "bpf_get_route_realm", // 24
        "bpf_perf_event_output", // 25
        "bpf_skb_load_bytes", // 26
        "bpf_get_stackid", // 27
        "bpf_csum_diff", // 28
        "bpf_skb_get_tunnel_opt", // 29
        "bpf_skb_set_tunnel_opt", // 30
        "bpf_skb_change_proto", // 31
        "bpf_skb_change_type", // 32
        "bpf_skb_under_cgroup", // 33
        "bpf_get_hash_recalc", // 34
        "bpf_get_current_task", // 35
        "bpf_probe_write_user", // 36
        "bpf_current_task_under_cgroup", // 37
        "bpf_skb_change_tail", // 38
        "bpf_skb_pull_data", // 39
        "bpf_csum_update", // 40
        "bpf_set_hash_invalid", // 41
        "bpf_get_numa_node_id", // 42
        "bpf_skb_change_head", // 43
        "bpf_xdp_adjust_head", // 44
        "bpf_probe_read_str", // 45
        "bpf_get_socket_cookie", // 46
        "bpf_get_socket_uid", // 47
        "bpf_set_hash", // 48
        "bpf_setsockopt", // 49
        "bpf_skb_adjust_room", // 50
        "bpf_redirect_map", // 51
        "bpf_sk_redirect_map", // 52
        "bpf_sock_map_update", // 53
        "bpf_xdp_adjust_meta", // 54
        "bpf_perf_event_read_value", // 55
        "bpf_perf_prog_read_value", // 56
        "bpf_getsockopt", // 57
        "bpf_override_return", // 58
        "bpf_sock_ops_cb_flags_set", // 59
        "bpf_msg_redirect_map", // 60
        "bpf_msg_apply_bytes", // 61
        "bpf_msg_cork_bytes", // 62
        "bpf_msg_pull_data", // 63
        "bpf_bind", // 64
        "bpf_xdp_adjust_tail", // 65
        "bpf_skb_get_xfrm_state", // 66
        "bpf_get_stack", // 67
        "bpf_skb_load_bytes_relative", // 68
        "bpf_fib_lookup", // 69
        "bpf_sock_hash_update", // 70
        "bpf_msg_redirect_hash", // 71
        "bpf_sk_redirect_hash", // 72
        "bpf_lwt_push_encap", // 73
        "bpf_lwt_seg6_store_bytes", // 74
        "bpf_lwt_seg6_adjust_srh", // 75
        "bpf_lwt_seg6_action", // 76
        "bpf_rc_repeat", // 77
        "bpf_rc_keydown", // 78
        "bpf_skb_cgroup_id", // 79
        "bpf_get_current_cgroup_id", // 80
        "bpf_get_local_storage", // 81
        "bpf_sk_select_reuseport", // 82
        "bpf_skb_ancestor_cgroup_id", // 83
        "bpf_sk_lookup_tcp", // 84
        "bpf_sk_lookup_udp", // 85
        "bpf_sk_release", // 86
        "bpf_map_push_elem", // 87
        "bpf_map_pop_elem", // 88
        "bpf_map_peek_elem", // 89
        "bpf_msg_push_data", // 90
        "bpf_msg_pop_data", // 91
        "bpf_rc_pointer_rel", // 92
        "bpf_spin_lock", // 93
        "bpf_spin_unlock", // 94
        "bpf_sk_fullsock", // 95
        "bpf_tcp_sock", // 96
        "bpf_skb_ecn_set_ce", // 97
        "bpf_get_listener_sock", // 98
        "bpf_skc_lookup_tcp", // 99
        "bpf_tcp_check_syncookie", // 100
        "bpf_sysctl_get_name", // 101
        "bpf_sysctl_get_current_value", // 102
        "bpf_sysctl_get_new_value", // 103
        "bpf_sysctl_set_new_value", // 104
        "bpf_strtol", // 105
        "bpf_strtoul", // 106
        "bpf_sk_storage_get", // 107
        "bpf_sk_storage_delete", // 108
        "bpf_send_signal", // 109
        "bpf_tcp_gen_syncookie", // 110
        "bpf_skb_output", // 111
        "bpf_probe_read_user", // 112
        "bpf_probe_read_kernel", // 113
        "bpf_probe_read_user_str", // 114
        "bpf_probe_read_kernel_str", // 115
        "bpf_tcp_send_ack", // 116
        "bpf_send_signal_thread", // 117
        "bpf_jiffies64", // 118
        "bpf_read_branch_records", // 119
        "bpf_get_ns_current_pid_tgid", // 120
        "bpf_xdp_output", // 121
        "bpf_get_netns_cookie", // 122
        "bpf_get_current_ancestor_cgroup_id", // 123
        "bpf_sk_assign", // 124
        "bpf_ktime_get_boot_ns", // 125
        "bpf_seq_printf", // 126
        "bpf_seq_write", // 127
        "bpf_sk_cgroup_id", // 128
        "bpf_sk_ancestor_cgroup_id", // 129
        "bpf_ringbuf_output", // 130
        "bpf_ringbuf_reserve", // 131
        "bpf_ringbuf_submit", // 132
        "bpf_ringbuf_discard", // 133
        "bpf_ringbuf_query", // 134
        "bpf_csum_level", // 135
        "bpf_skc_to_tcp6_sock", // 136
        "bpf_skc_to_tcp_sock", // 137
        "bpf_skc_to_tcp_timewait_sock", // 138
        "bpf_skc_to_tcp_request_sock", // 139
        "bpf_skc_to_udp6_sock", // 140
        "bpf_get_task_stack", // 141
        "bpf_load_hdr_opt", // 142
        "bpf_store_hdr_opt", // 143
        "bpf_reserve_hdr_opt", // 144
        "bpf_inode_storage_get", // 145
        "bpf_inode_storage_delete", // 146
        "bpf_d_path", // 147
        "bpf_copy_from_user", // 148
        "bpf_snprintf_btf", // 149
        "bpf_seq_printf_btf", // 150
        "bpf_skb_cgroup_classid", // 151
        "bpf_redirect_neigh", // 152
        "bpf_per_cpu_ptr", // 153
        "bpf_this_cpu_ptr", // 154
        "bpf_redirect_peer", // 155
        "bpf_task_storage_get", // 156
        "bpf_task_storage_delete", // 157
        "bpf_get_current_task_btf", // 158
        "bpf_bprm_opts_set", // 159
        "bpf_ktime_get_coarse_ns", // 160
        "bpf_ima_inode_hash", // 161
        "bpf_sock_from_file", // 162
        "bpf_check_mtu", // 163
        "bpf_for_each_map_elem", // 164
        "bpf_snprintf", // 165
        "bpf_sys_bpf", // 166
        "bpf_btf_find_by_name_kind", // 167
        "bpf_sys_close", // 168
        "bpf_timer_init", // 169
        "bpf_timer_set_callback", // 170
        "bpf_timer_start", // 171
        "bpf_timer_cancel", // 172
        "bpf_get_func_ip", // 173
        "bpf_get_attach_cookie", // 174
        "bpf_task_pt_regs", // 175
        "bpf_get_branch_snapshot", // 176
        "bpf_trace_vprintk", // 177
        "bpf_skc_to_unix_sock", // 178
        "bpf_kallsyms_lookup_name", // 179
        "bpf_find_vma", // 180
        "bpf_loop", // 181
        "bpf_strncmp", // 182
        "bpf_get_func_arg", // 183
        "bpf_get_func_ret", // 184
        "bpf_get_func_arg_cnt", // 185
        "bpf_get_retval", // 186
        "bpf_set_retval", // 187
        "bpf_xdp_get_buff_len", // 188
        "bpf_xdp_load_bytes", // 189
        "bpf_xdp_store_bytes", // 190
        "bpf_copy_from_user_task", // 191
        "bpf_skb_set_tstamp", // 192
        "bpf_ima_file_hash", // 193
        "bpf_kptr_xchg", // 194
        "bpf_map_lookup_percpu_elem", // 195
        "bpf_skc_to_mptcp_sock", // 196
        "bpf_dynptr_from_mem", // 197
        "bpf_ringbuf_reserve_dynptr", // 198
        "bpf_ringbuf_submit_dynptr", // 199
        "bpf_ringbuf_discard_dynptr", // 200
        "bpf_dynptr_read", // 201
        "bpf_dynptr_write", // 202
        "bpf_dynptr_data", // 203
        "bpf_tcp_raw_gen_syncookie_ipv4", // 204
        "bpf_tcp_raw_gen_syncookie_ipv6", // 205
        "bpf_tcp_raw_check_syncookie_ipv4", // 206
        "bpf_tcp_raw_check_syncookie_ipv6", // 207
        "bpf_ktime_get_tai_ns", // 208
        "bpf_user_ringbuf_drain", // 209
        "bpf_cgrp_storage_get", // 210
        "bpf_cgrp_storage_delete", // 211
    ]
}

extension Assembler {
    /// `call helper`.
    public mutating func call(_ helper: HelperFunction) { call(helperID: helper.rawValue) }
}
