import BPFObject
import Foundation

// The build plugin's worker (BPFBuildPlugin runs it as build commands):
//   swiftbpf-skeleton build CLANG INCLUDE_DIR VMLINUX_DIR SOURCE.bpf.c OBJECT.bpf.o OUT.swift NAME
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

/// vmlinux.h for the running kernel, written once per release (atomically: several build
/// commands may ask at once).
func vmlinuxHeader(in directory: String) {
    let path = directory + "/vmlinux.h"
    guard !FileManager.default.fileExists(atPath: path) else { return }
    do {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        write(try BTFCHeaderWriter(btf: BTF(read("/sys/kernel/btf/vmlinux"))).header(), to: path)
    } catch { fail("/sys/kernel/btf/vmlinux: \(error)") }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "build" where arguments.count == 8:
    let (clang, include, vmlinux, source, object, output, name) = (arguments[1], arguments[2], arguments[3], arguments[4], arguments[5], arguments[6], arguments[7])
    vmlinuxHeader(in: vmlinux)
    // clang's diagnostics go straight to our stderr, so the build shows them with file:line.
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clang)
    process.arguments = ["-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-Wall",
                         "-I", include, "-I", vmlinux, "-c", source, "-o", object]
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
    fail("usage: swiftbpf-skeleton build CLANG INCLUDE_DIR VMLINUX_DIR SOURCE.bpf.c OBJECT.bpf.o OUT.swift NAME | vmlinux-header BTF_FILE OUT.h | skeleton OBJECT.bpf.o SOURCE.bpf.c OUT.swift NAME")
}
