/// `enum bpf_cmd` (include/uapi/linux/bpf.h).
public enum BPFCommand: Int32, Sendable, CustomStringConvertible {
    case mapCreate = 0
    case mapLookupElem = 1
    case mapUpdateElem = 2
    case mapDeleteElem = 3
    case mapGetNextKey = 4
    case progLoad = 5
    case objPin = 6
    case objGet = 7
    case progAttach = 8
    case progDetach = 9
    case progTestRun = 10
    case progGetNextID = 11
    case mapGetNextID = 12
    case progGetFDByID = 13
    case mapGetFDByID = 14
    case objGetInfoByFD = 15
    case progQuery = 16
    case rawTracepointOpen = 17
    case btfLoad = 18
    case btfGetFDByID = 19
    case taskFDQuery = 20
    case mapLookupAndDeleteElem = 21
    case mapFreeze = 22
    case btfGetNextID = 23
    case mapLookupBatch = 24
    case mapLookupAndDeleteBatch = 25
    case mapUpdateBatch = 26
    case mapDeleteBatch = 27
    case linkCreate = 28
    case linkUpdate = 29
    case linkGetFDByID = 30
    case linkGetNextID = 31
    case enableStats = 32
    case iterCreate = 33
    case linkDetach = 34
    case progBindMap = 35
    case tokenCreate = 36

    /// The kernel's name, as users see it in strace and docs (`BPF_MAP_CREATE`).
    public var description: String {
        switch self {
        case .mapCreate: "BPF_MAP_CREATE"
        case .mapLookupElem: "BPF_MAP_LOOKUP_ELEM"
        case .mapUpdateElem: "BPF_MAP_UPDATE_ELEM"
        case .mapDeleteElem: "BPF_MAP_DELETE_ELEM"
        case .mapGetNextKey: "BPF_MAP_GET_NEXT_KEY"
        case .progLoad: "BPF_PROG_LOAD"
        case .objPin: "BPF_OBJ_PIN"
        case .objGet: "BPF_OBJ_GET"
        case .progAttach: "BPF_PROG_ATTACH"
        case .progDetach: "BPF_PROG_DETACH"
        case .progTestRun: "BPF_PROG_TEST_RUN"
        case .progGetNextID: "BPF_PROG_GET_NEXT_ID"
        case .mapGetNextID: "BPF_MAP_GET_NEXT_ID"
        case .progGetFDByID: "BPF_PROG_GET_FD_BY_ID"
        case .mapGetFDByID: "BPF_MAP_GET_FD_BY_ID"
        case .objGetInfoByFD: "BPF_OBJ_GET_INFO_BY_FD"
        case .progQuery: "BPF_PROG_QUERY"
        case .rawTracepointOpen: "BPF_RAW_TRACEPOINT_OPEN"
        case .btfLoad: "BPF_BTF_LOAD"
        case .btfGetFDByID: "BPF_BTF_GET_FD_BY_ID"
        case .taskFDQuery: "BPF_TASK_FD_QUERY"
        case .mapLookupAndDeleteElem: "BPF_MAP_LOOKUP_AND_DELETE_ELEM"
        case .mapFreeze: "BPF_MAP_FREEZE"
        case .btfGetNextID: "BPF_BTF_GET_NEXT_ID"
        case .mapLookupBatch: "BPF_MAP_LOOKUP_BATCH"
        case .mapLookupAndDeleteBatch: "BPF_MAP_LOOKUP_AND_DELETE_BATCH"
        case .mapUpdateBatch: "BPF_MAP_UPDATE_BATCH"
        case .mapDeleteBatch: "BPF_MAP_DELETE_BATCH"
        case .linkCreate: "BPF_LINK_CREATE"
        case .linkUpdate: "BPF_LINK_UPDATE"
        case .linkGetFDByID: "BPF_LINK_GET_FD_BY_ID"
        case .linkGetNextID: "BPF_LINK_GET_NEXT_ID"
        case .enableStats: "BPF_ENABLE_STATS"
        case .iterCreate: "BPF_ITER_CREATE"
        case .linkDetach: "BPF_LINK_DETACH"
        case .progBindMap: "BPF_PROG_BIND_MAP"
        case .tokenCreate: "BPF_TOKEN_CREATE"
        }
    }
}
