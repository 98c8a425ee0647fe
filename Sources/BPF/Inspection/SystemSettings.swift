import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading the kernel's BPF-related settings: sysctls under /proc/sys and the build
/// configuration (/boot/config-RELEASE or /proc/config.gz).
enum SystemSetting {
    /// An integer sysctl file, or nil if it does not exist or cannot be read.
    static func integer(_ path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// The kernel's build configuration (`CONFIG_*` options), when the system exposes it.
public struct KernelConfiguration: Sendable {
    /// Option name → value (`y`, `m`, a number, a quoted string). Options "is not set" are absent.
    public let options: [String: String]
    /// The file the configuration was read from.
    public let source: String

    /// Reads /boot/config-$(uname -r), then /proc/config.gz (CONFIG_IKCONFIG_PROC), like bpftool.
    public static func current() -> KernelConfiguration? {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let bootPath = "/boot/config-\(release)"
        if let text = try? String(contentsOfFile: bootPath, encoding: .utf8) {
            return KernelConfiguration(parsing: text, source: bootPath)
        }
        if let data = GzipFile.read("/proc/config.gz") {
            return KernelConfiguration(parsing: String(decoding: data, as: UTF8.self), source: "/proc/config.gz")
        }
        return nil
    }

    public init(parsing text: String, source: String) {
        var options: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            options[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        self.options = options
        self.source = source
    }

    public subscript(option: String) -> String? { options[option] }
}

/// Decompresses a gzip file through the system's zlib, loaded at run time so the package needs
/// no zlib headers or link flags; nil when zlib or the file is missing.
enum GzipFile {
    private typealias Open = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> OpaquePointer?
    private typealias Read = @convention(c) (OpaquePointer, UnsafeMutableRawPointer, UInt32) -> Int32
    private typealias Close = @convention(c) (OpaquePointer) -> Int32

    static func read(_ path: String) -> [UInt8]? {
        guard let library = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        defer { dlclose(library) }
        guard let openSymbol = dlsym(library, "gzopen"), let readSymbol = dlsym(library, "gzread"),
              let closeSymbol = dlsym(library, "gzclose") else { return nil }
        let gzopen = unsafeBitCast(openSymbol, to: Open.self)
        let gzread = unsafeBitCast(readSymbol, to: Read.self)
        let gzclose = unsafeBitCast(closeSymbol, to: Close.self)
        guard let file = gzopen(path, "rb") else { return nil }
        defer { _ = gzclose(file) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress!, UInt32($0.count)) }
            if count < 0 { return nil }
            if count == 0 { return output }
            output.append(contentsOf: chunk.prefix(Int(count)))
        }
    }
}
