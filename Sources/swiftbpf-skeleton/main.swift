import BPFObject
import Foundation

// The build plugin's worker (BPFBuildPlugin runs it as build commands):
//   swiftbpf-skeleton vmlinux-header BTF_FILE OUT.h
//   swiftbpf-skeleton skeleton OBJECT.bpf.o SOURCE.bpf.c OUT.swift NAME
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

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "vmlinux-header" where arguments.count == 3:
    do { write(try BTFCHeaderWriter(btf: BTF(read(arguments[1]))).header(), to: arguments[2]) }
    catch { fail("\(arguments[1]): \(error)") }
case "skeleton" where arguments.count == 5:
    let source = String(decoding: read(arguments[2]), as: UTF8.self)
    let marker = "// swiftbpf:event-type "
    let events = source.split(separator: "\n").compactMap { line -> String? in
        let text = line.trimmingCharacters(in: .whitespaces)
        return text.hasPrefix(marker) ? String(text.dropFirst(marker.count)).trimmingCharacters(in: .whitespaces) : nil
    }
    do { write(try SkeletonGenerator(objectBytes: read(arguments[1]), name: arguments[4], eventTypes: events).generate(), to: arguments[3]) }
    catch { fail("\(arguments[1]): \(error)") }
default:
    fail("usage: swiftbpf-skeleton vmlinux-header BTF_FILE OUT.h | skeleton OBJECT.bpf.o SOURCE.bpf.c OUT.swift NAME")
}
