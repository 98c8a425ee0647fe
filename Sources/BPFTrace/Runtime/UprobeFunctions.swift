import BPF
import Foundation

/// The functions a uprobe binary defines, for wildcard uprobes and `-l uprobe:PATH:PATTERN`.
enum UprobeFunctions {
    /// The binary's path as uprobes resolve it (library names, `$PATH`, `-p PID` mappings).
    static func path(of binary: String, processID: Int32?) throws -> String {
        try UprobeTarget.resolveBinary(binary, processID: processID)
    }

    /// Sorted function names of `binary`, or nil when it cannot be found or is not ELF.
    static func names(in binary: String, processID: Int32?) -> [String]? {
        try? UprobeTarget.functionNames(in: binary, processID: processID).names
    }
}
