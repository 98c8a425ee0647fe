import BPFObject
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where a uprobe goes: a binary or library and a place in it.
public struct UprobeTarget: Sendable, CustomStringConvertible {
    /// A path (`/usr/bin/bash`), a library name (`libc`, `libc.so.6`) or an executable name
    /// found through `$PATH` (`bash`).
    public var binary: String
    public var location: Location
    /// Only this process triggers the probe; with a library name, also where to look for it
    /// (`/proc/<pid>/maps`).
    public var processID: Int32?

    /// Where in the file the probe goes.
    public enum Location: Sendable, Hashable {
        /// A function by name plus an offset into it.
        case symbol(String, offset: UInt64)
        /// A virtual address as the ELF file states it (`nm` output), converted to a file offset.
        case address(UInt64)
        /// A file offset, used as is.
        case fileOffset(UInt64)
    }

    public init(binary: String, location: Location, processID: Int32? = nil) {
        self.binary = binary
        self.location = location
        self.processID = processID
    }

    public init(binary: String, symbol: String, offset: UInt64 = 0, processID: Int32? = nil) {
        self.init(binary: binary, location: .symbol(symbol, offset: offset), processID: processID)
    }

    public var description: String {
        let place = switch location {
        case .symbol(let name, let offset): offset == 0 ? name : "\(name)+\(offset)"
        case .address(let address): "0x\(String(address, radix: 16))"
        case .fileOffset(let offset): "offset 0x\(String(offset, radix: 16))"
        }
        return "\(binary):\(place)" + (processID.map { " (pid \($0))" } ?? "")
    }

    /// The binary's path and the probe's file offset in it.
    public func resolve() throws -> (path: String, offset: UInt64) {
        let resolved = try Self.resolve(binary: binary, locations: [location], processID: processID)
        return (resolved.path, resolved.offsets[0])
    }

    static func readELF(_ path: String) throws -> ELFFile {
        let bytes = try readWholeFile(path)
        do {
            return try ELFFile(bytes: bytes)
        } catch let error as ELFError {
            throw BPFError.invalidArgument("\(path) is not a usable ELF file: \(error)")
        }
    }

    /// The file's bytes, read straight into the array (one copy; binaries can be large).
    static func readWholeFile(_ path: String) throws -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let error = Errno.current
            throw BPFError.notFound(what: "binary \(path)", detail: "it cannot be opened: \(error.name) (\(error.summary))")
        }
        defer { Glibc.close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size >= 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw BPFError.invalidArgument("\(path) is not a regular file")
        }
        let size = Int(status.st_size)
        var failure: Errno?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let got = Glibc.read(fd, buffer.baseAddress! + count, size - count)
                if got > 0 { count += got; continue }
                if got < 0, Errno.current == .EINTR { continue }
                if got < 0 { failure = .current }
                break // EOF early: the file shrank; parse what is there
            }
        }
        if let failure {
            throw BPFError.syscall(SystemCallFailure(operation: "read", errno: failure, subject: path))
        }
        return bytes
    }

    // MARK: Finding the binary

    /// Library directories searched after ld.so.cache, as the dynamic linker's built-in defaults
    /// and Debian/Ubuntu's multiarch directories.
    static var libraryDirectories: [String] {
        #if arch(x86_64)
        let triple = "x86_64-linux-gnu"
        #else
        let triple = "aarch64-linux-gnu"
        #endif
        return ["/lib/\(triple)", "/usr/lib/\(triple)", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"]
    }

    /// Turns `binary` into a path: a path is checked; a library name is looked up in the target
    /// process's mappings (when a pid is given), in /etc/ld.so.cache, then the library
    /// directories; a plain name is looked up in `$PATH`.
    public static func resolveBinary(_ binary: String, processID: Int32? = nil) throws -> String {
        let files = FileManager.default
        guard !binary.isEmpty else { throw BPFError.invalidArgument("uprobe target has an empty binary name") }
        if binary.contains("/") {
            var isDirectory: ObjCBool = false
            guard files.fileExists(atPath: binary, isDirectory: &isDirectory) else {
                throw BPFError.notFound(what: "binary \(binary)", detail: "no such file")
            }
            guard !isDirectory.boolValue else { throw BPFError.invalidArgument("\(binary) is a directory, not a binary") }
            // The kernel resolves the path itself, relative to its own idea of the working
            // directory for tracefs writes; an absolute path means the same file everywhere.
            return URL(fileURLWithPath: binary).standardizedFileURL.path
        }
        var searched: [String] = []
        if let processID {
            searched.append("/proc/\(processID)/maps")
            let maps = (try? String(contentsOfFile: "/proc/\(processID)/maps", encoding: .utf8)) ?? ""
            for line in maps.split(separator: "\n") {
                guard let slash = line.firstIndex(of: "/") else { continue }
                let path = String(line[slash...])
                let base = (path as NSString).lastPathComponent
                if matchesLibraryName(base, binary) || base == binary { return path }
            }
        }
        let looksLikeLibrary = binary.hasPrefix("lib") || binary.contains(".so")
        if looksLikeLibrary || processID == nil {
            searched.append("/etc/ld.so.cache")
            if let cache = SystemLinkerCache.shared.current(),
               let path = cache.paths(for: binary, abi: DynamicLinkerCache.nativeABI).first(where: { files.fileExists(atPath: $0) }) {
                return path
            }
            searched.append(contentsOf: libraryDirectories)
            for directory in libraryDirectories {
                if let name = try? files.contentsOfDirectory(atPath: directory).sorted().first(where: { $0 == binary || matchesLibraryName($0, binary) }) {
                    return directory + "/" + name
                }
            }
        }
        if !looksLikeLibrary {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            searched.append("$PATH")
            for directory in path.split(separator: ":") where files.isExecutableFile(atPath: "\(directory)/\(binary)") {
                return "\(directory)/\(binary)"
            }
        }
        throw BPFError.notFound(what: "binary or library '\(binary)'", detail: "searched \(searched.joined(separator: ", ")); give a path instead")
    }

    /// Whether file name `file` is library `name` (`libc` and `c` match `libc.so.6`; `libc.so`
    /// matches `libc.so.6`).
    static func matchesLibraryName(_ file: String, _ name: String) -> Bool {
        let stem = name.hasPrefix("lib") ? name : "lib" + name
        return file == stem || file.hasPrefix(stem.hasSuffix(".so") ? stem + "." : stem + ".so") || file == stem + ".so"
    }
}

/// /etc/ld.so.cache parsed once and parsed again only when ldconfig has rewritten it.
final class SystemLinkerCache: @unchecked Sendable {
    static let shared = SystemLinkerCache()
    static let path = "/etc/ld.so.cache"
    private let lock = NSLock()
    private var cached: (modified: timespec, size: Int, cache: DynamicLinkerCache)?

    func current() -> DynamicLinkerCache? {
        var status = stat()
        guard stat(Self.path, &status) == 0 else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let cached, cached.size == Int(status.st_size), cached.modified.tv_sec == status.st_mtim.tv_sec,
           cached.modified.tv_nsec == status.st_mtim.tv_nsec {
            return cached.cache
        }
        guard let bytes = try? UprobeTarget.readWholeFile(Self.path), let cache = try? DynamicLinkerCache(bytes: bytes) else { return nil }
        cached = (status.st_mtim, Int(status.st_size), cache)
        return cache
    }
}
