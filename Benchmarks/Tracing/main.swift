// SwiftBPF side of the tracing attach benchmark (Benchmarks/run-tracing.sh).
//
//   swiftbpf-bench-tracing <library path> <symbol> <iterations>
//
// The same measurements as Benchmarks/C/tracing-attach.c: per iteration, attach + detach of a
// uprobe given by symbol name (resolved from the ELF file each time) and of the tracepoint
// syscalls:sys_enter_getppid (wall and process CPU time); plus, SwiftBPF only, the symbol resolution alone and resolving a
// library by bare name through /etc/ld.so.cache. Prints the median and the minimum in µs.
import BPF
import BPFObject
import Foundation

func clockMicroseconds(_ clock: clockid_t) -> Double {
    var time = timespec()
    clock_gettime(clock, &time)
    return Double(time.tv_sec) * 1e6 + Double(time.tv_nsec) / 1e3
}

func measure(_ name: String, _ iterations: Int, _ body: () throws -> Void) throws {
    var samples: [Double] = []
    var cpu: [Double] = []
    samples.reserveCapacity(iterations)
    cpu.reserveCapacity(iterations)
    for _ in 0..<iterations {
        let start = clockMicroseconds(CLOCK_MONOTONIC), cpuStart = clockMicroseconds(CLOCK_PROCESS_CPUTIME_ID)
        try body()
        samples.append(clockMicroseconds(CLOCK_MONOTONIC) - start)
        cpu.append(clockMicroseconds(CLOCK_PROCESS_CPUTIME_ID) - cpuStart)
    }
    samples.sort()
    cpu.sort()
    let format = { (value: Double) in String(format: "%.1f", value) }
    print("\(name) median_us=\(format(samples[samples.count / 2])) min_us=\(format(samples[0])) cpu_median_us=\(format(cpu[cpu.count / 2]))")
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let iterations = Int(arguments[3]), iterations > 0 else {
    FileHandle.standardError.write(Data("usage: swiftbpf-bench-tracing LIBRARY SYMBOL ITERATIONS\n".utf8))
    exit(2)
}
let (library, symbol) = (arguments[1], arguments[2])

func emptyProgram(_ name: String, _ type: ProgramType) throws -> Program {
    var asm = Assembler()
    asm.mov(.r0, 0)
    asm.exit()
    return try Program(ProgramSpec(name: name, type: type, instructions: try asm.assemble()))
}

do {
    let uprobe = try emptyProgram("bench_uprobe", .kprobe)
    let tracepoint = try emptyProgram("bench_tracepoint", .tracepoint)
    try measure("uprobe_by_symbol_attach_detach", iterations) {
        try uprobe.attachUprobe(UprobeTarget(binary: library, symbol: symbol)).close()
    }
    try measure("tracepoint_attach_detach", iterations) {
        try tracepoint.attachTracepoint(category: "syscalls", name: "sys_enter_getppid").close()
    }
    try measure("uprobe_symbol_resolution_only", iterations) {
        _ = try UprobeTarget(binary: library, symbol: symbol).resolve()
    }
    let bareName = (library as NSString).lastPathComponent
    try measure("library_name_resolution_\(bareName)", iterations) {
        _ = try UprobeTarget.resolveBinary(bareName)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
