import Foundation

/// The CPUs the kernel may ever bring online (/sys/devices/system/cpu/possible): per-CPU maps
/// hold one value slot for each, and perf buffers need one ring for each online one.
public enum PossibleCPUs {
    /// How many possible CPUs there are (the highest possible CPU number + 1).
    public static let count: Int = (try? parseCPUList(String(contentsOfFile: "/sys/devices/system/cpu/possible", encoding: .utf8)).last.map { $0 + 1 }) ?? ProcessInfo.processInfo.activeProcessorCount

    /// The online CPUs (/sys/devices/system/cpu/online).
    public static var online: [Int] {
        (try? parseCPUList(String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8))) ?? Array(0..<count)
    }

    /// Parses the kernel's CPU list format ("0-3,5,7-8").
    public static func parseCPUList(_ text: String) -> [Int] {
        var cpus: [Int] = []
        // (Split on whitespace too rather than trimming: Foundation's trimming costs ~0.1 ms on first use.)
        for part in text.split(whereSeparator: { $0 == "," || $0.isWhitespace }) {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2, bounds[0] <= bounds[1] { cpus.append(contentsOf: bounds[0]...bounds[1]) }
            else if bounds.count == 1 { cpus.append(bounds[0]) }
        }
        return cpus
    }
}
