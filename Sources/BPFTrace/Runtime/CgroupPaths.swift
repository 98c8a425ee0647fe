import Foundation

/// `cgroup_path(id[, filter])`: where a cgroup id (the inode number of its cgroupfs directory)
/// lives in each mounted cgroup hierarchy, as bpftrace 0.17 prints it: `name:path` for every
/// hierarchy holding a directory with that inode, `unified` (cgroup2) first and the v1
/// hierarchies by name, joined by ",". `filter` is a shell glob over hierarchy names.
enum CgroupPaths {
    struct Hierarchy {
        var name: String
        var mountPoint: String
    }

    /// Mounted hierarchies from /proc/self/mountinfo (proc(5)): cgroup2 is "unified"; a v1
    /// hierarchy is named by its controllers (super options without rw/ro and flags), or by
    /// `name=X` for named hierarchies such as systemd's.
    static func hierarchies(mountInfo: String) -> [Hierarchy] {
        var found: [Hierarchy] = []
        for line in mountInfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let mountFields = halves[0].split(separator: " ")
            let tail = halves[1].split(separator: " ")
            guard mountFields.count >= 5, tail.count >= 3 else { continue }
            let mountPoint = String(mountFields[4]).replacingOccurrences(of: "\\040", with: " ")
            switch tail[0] {
            case "cgroup2":
                found.append(Hierarchy(name: "unified", mountPoint: mountPoint))
            case "cgroup":
                let flags: Set<Substring> = ["rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"]
                let names = tail[2].split(separator: ",").compactMap { option -> Substring? in
                    if option.hasPrefix("name=") { return option.dropFirst(5) }
                    if flags.contains(option) || option.contains("=") { return nil }
                    return option
                }
                found.append(Hierarchy(name: names.joined(separator: ","), mountPoint: mountPoint))
            default: continue
            }
        }
        return found.sorted { ($0.name == "unified" ? 0 : 1, $0.name) < ($1.name == "unified" ? 0 : 1, $1.name) }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: String] = [:]

    /// The text for `id` under `filter` (nil: all hierarchies); "" when no hierarchy has it.
    static func text(id: UInt64, filter: String?) -> String {
        let cacheKey = "\(id)/\(filter ?? "*")"
        if let known = lock.withLock({ cache[cacheKey] }) { return known }
        let mountInfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        var parts: [String] = []
        for hierarchy in hierarchies(mountInfo: mountInfo) {
            if let filter, fnmatch(filter, hierarchy.name, 0) != 0 { continue }
            if let path = path(ofInode: id, under: hierarchy.mountPoint) { parts.append("\(hierarchy.name):\(path)") }
        }
        let text = parts.joined(separator: ",")
        lock.withLock { if cache.count < 4096 { cache[cacheKey] = text } }
        return text
    }

    /// The path (from the hierarchy's root, "/" for the root) of the directory whose inode is
    /// `inode`, searched breadth first; nil when there is none.
    static func path(ofInode inode: UInt64, under root: String) -> String? {
        var queue = [""]
        var index = 0
        while index < queue.count {
            let relative = queue[index]
            index += 1
            var info = stat()
            guard lstat(root + relative, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            if UInt64(info.st_ino) == inode { return relative.isEmpty ? "/" : relative }
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root + relative) else { continue }
            for entry in entries.sorted() {
                var child = stat()
                // Only directories are cgroups; control files are skipped without a second look.
                if lstat(root + relative + "/" + entry, &child) == 0, (child.st_mode & S_IFMT) == S_IFDIR {
                    queue.append(relative + "/" + entry)
                }
            }
        }
        return nil
    }
}
