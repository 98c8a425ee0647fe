/// Parsing of /proc/self/mountinfo (proc(5)), shared by the bpffs and cgroup v2 lookups.
enum MountInfo {
    /// The mount points of file systems of `type` in a mountinfo text: field 5 is the mount
    /// point with octal escapes, the first field after the " - " separator (which follows at
    /// least six fields) is the file-system type. Malformed lines are skipped.
    static func mountPoints(ofType type: String, in text: String) -> [String] {
        var result: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 7, let separator = fields.firstIndex(of: "-"), separator >= 6,
                  separator + 1 < fields.count, fields[separator + 1] == type else { continue }
            result.append(unescape(fields[4]))
        }
        return result
    }

    /// Undoes the kernel's `\ooo` escaping of spaces, tabs, newlines and backslashes
    /// (fs/proc_namespace.c mangle()); anything that is not such an escape stays as it is.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), index + 3 < source.count {
                let digits = source[(index + 1)...(index + 3)]
                if digits.allSatisfy({ (48...55).contains($0) }) {
                    let value = digits.reduce(0) { $0 * 8 + Int($1 - 48) }
                    if value <= 255 {
                        bytes.append(UInt8(value))
                        index += 4
                        continue
                    }
                }
            }
            bytes.append(source[index])
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
