import BPFObject
import Foundation

// The build plugin's worker (BPFBuildPlugin runs it as build commands):
//   swiftbpf-skeleton build --clang CLANG --include INCLUDE_DIR
//       (--vmlinux-header CHECKED_IN/vmlinux.h | --vmlinux-cache CACHE_DIR)
//       --source SOURCE.bpf.c --object OBJECT.bpf.o --output OUT.swift --name NAME
//   swiftbpf-skeleton vmlinux-header BTF_FILE OUT.h
//   swiftbpf-skeleton skeleton OBJECT.bpf.o SOURCE.bpf.c OUT.swift NAME
// `build` does all three steps in one build command, so the object and vmlinux.h are not
// declared outputs (SwiftPM would treat them as resources and headers of the target).
// Event types come from `// swiftbpf:event-type NAME` lines in the C source, since ring buffer
// records have no type the object's maps could reveal.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("swiftbpf-skeleton: error: \(message)\n".utf8))
    exit(1)
}

func write(_ text: String, to path: String) {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("cannot write \(path): \(error)") }
}

func read(_ path: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    return [UInt8](data)
}

func generateSkeleton(object: String, source sourcePath: String, output: String, name: String) {
    let source = String(decoding: read(sourcePath), as: UTF8.self)
    let marker = "// swiftbpf:event-type "
    let events = source.split(separator: "\n").compactMap { line -> String? in
        let text = line.trimmingCharacters(in: .whitespaces)
        return text.hasPrefix(marker) ? String(text.dropFirst(marker.count)).trimmingCharacters(in: .whitespaces) : nil
    }
    do { write(try SkeletonGenerator(objectBytes: read(object), name: name, eventTypes: events).generate(), to: output) }
    catch { fail("\(object): \(error)") }
}

/// The directory holding vmlinux.h for the running kernel inside `cache`, written on first use.
/// Keyed by release and a hash of the BTF: a rebuilt kernel can keep its release string.
/// Written atomically, since several build commands may ask at once.
func cachedVmlinuxDirectory(in cache: String) -> String {
    let btfPath = "/sys/kernel/btf/vmlinux"
    let btf = read(btfPath)
    let release = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
    let directory = cache + "/" + release + "-" + String(fnv1a64(btf), radix: 16)
    let path = directory + "/vmlinux.h"
    guard !FileManager.default.fileExists(atPath: path) else { return directory }
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        write(try BTFCHeaderWriter(btf: BTF(btf)).header(), to: path)
    } catch { fail("\(btfPath): \(error)") }
    return directory
}

/// FNV-1a, 64-bit: a cache key for the kernel's BTF, not a security measure.
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    bytes.withUnsafeBufferPointer { buffer in
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in buffer { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}

/// The `-D__TARGET_ARCH_<arch>` bpf_tracing.h needs to pick the register layout of PT_REGS_*:
/// `clang -target bpf` defines no host architecture macro. The BPF program runs on the kernel
/// of the machine that runs this package's products, taken to be the build host (the names
/// are libbpf's: x86, arm64, s390, powerpc, riscv, loongarch).
func targetArchDefine() -> String {
    #if arch(x86_64)
    return "-D__TARGET_ARCH_x86"
    #elseif arch(arm64)
    return "-D__TARGET_ARCH_arm64"
    #elseif arch(s390x)
    return "-D__TARGET_ARCH_s390"
    #elseif arch(powerpc64le) || arch(powerpc64)
    return "-D__TARGET_ARCH_powerpc"
    #elseif arch(riscv64)
    return "-D__TARGET_ARCH_riscv"
    #else
    return "-D__TARGET_ARCH_unknown"
    #endif
}

/// `--name value` pairs after the subcommand.
func options(_ arguments: ArraySlice<String>) -> [String: String] {
    var result: [String: String] = [:]
    var iterator = arguments.makeIterator()
    while let key = iterator.next() {
        guard key.hasPrefix("--"), let value = iterator.next() else { fail("expected --option value, got '\(key)'") }
        result[String(key.dropFirst(2))] = value
    }
    return result
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "build":
    let given = options(arguments.dropFirst())
    func required(_ key: String) -> String {
        guard let value = given[key] else { fail("build: missing --\(key)") }
        return value
    }
    let (clang, include, source, object, output, name) = (required("clang"), required("include"), required("source"), required("object"), required("output"), required("name"))
    let vmlinuxDirectory: String
    if let checkedIn = given["vmlinux-header"] {
        // A vmlinux.h checked into the target: used as is, never regenerated.
        vmlinuxDirectory = (checkedIn as NSString).deletingLastPathComponent
    } else {
        vmlinuxDirectory = cachedVmlinuxDirectory(in: required("vmlinux-cache"))
    }
    // clang's diagnostics go straight to our stderr, so the build shows them with file:line.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clang)
    process.arguments = ["-target", "bpf", targetArchDefine(), "-g", "-O2", "-Wall",
                         "-I", include, "-I", vmlinuxDirectory, "-c", source, "-o", object]
    do { try process.run() } catch { fail("cannot run \(clang): \(error)") }
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { exit(process.terminationStatus) }
    generateSkeleton(object: object, source: source, output: output, name: name)
case "vmlinux-header" where arguments.count == 3:
    do { write(try BTFCHeaderWriter(btf: BTF(read(arguments[1]))).header(), to: arguments[2]) }
    catch { fail("\(arguments[1]): \(error)") }
case "skeleton" where arguments.count == 5:
    generateSkeleton(object: arguments[1], source: arguments[2], output: arguments[3], name: arguments[4])
default:
    fail("usage: swiftbpf-skeleton build --clang CLANG --include DIR (--vmlinux-header FILE | --vmlinux-cache DIR) --source FILE.bpf.c --object FILE.bpf.o --output FILE.swift --name NAME | vmlinux-header BTF_FILE OUT.h | skeleton OBJECT.bpf.o SOURCE.bpf.c OUT.swift NAME")
}
