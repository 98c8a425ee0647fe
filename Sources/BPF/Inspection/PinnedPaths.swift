import Foundation

/// Where objects are pinned: walks every bpffs mount and maps object ids to their pin paths,
/// for `bpftool -f` (`--bpffs`) style output.
public enum PinnedPaths {
    /// Object id → pinned paths (sorted) for every pin of `kind` under the bpffs mounts.
    public static func discover(_ kind: KernelObjectKind) -> [UInt32: [String]] {
        var found: [UInt32: [String]] = [:]
        for mount in BPFFileSystem.mountPoints() {
            guard let walker = FileManager.default.enumerator(atPath: mount) else { continue }
            while let relative = walker.nextObject() as? String {
                let path = mount + "/" + relative
                var status = stat()
                guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
                guard let fd = try? Pinning.open(path, readOnly: false), FileDescriptorInfo.kind(of: fd) == kind else { continue }
                let id: UInt32? = switch kind {
                case .program: try? ProgramInfo(fd: fd).id
                case .map: try? MapInfo(fd: fd).id
                case .link: try? LinkInfo(fd: fd).id
                case .btf: try? BTFObjectInfo(fd: fd).id
                }
                if let id { found[id, default: []].append(path) }
            }
        }
        return found.mapValues { $0.sorted() }
    }
}
