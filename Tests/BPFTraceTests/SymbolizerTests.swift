@testable import BPFTrace
import BPFObject
import Foundation
import Testing

/// User and kernel address symbolisation (what `usym`, `ustack`, `ksym`, `kstack` print), against
/// this very process: its own /proc/self/maps and the libraries it has mapped.
@Suite struct SymbolizerTests {
    @Test func userAddressesNameTheFunctionInTheMappedLibrary() throws {
        let symbols = TraceSymbolizer { _, _ in [] }
        let handle = dlopen(nil, RTLD_NOW)
        let strtol = try #require(dlsym(handle, "strtol"))
        let address = UInt64(UInt(bitPattern: strtol))
        #expect(symbols.userSymbol(address, processID: getpid(), offset: false, module: false) == "strtol")
        #expect(symbols.userSymbol(address + 3, processID: getpid(), offset: true, module: false) == "strtol+3")
        let module = symbols.userSymbol(address, processID: getpid(), offset: true, module: true)
        #expect(module.hasPrefix("strtol+0 (/") && module.hasSuffix("libc.so.6)"), "\(module)")
        // Unmapped: bpftrace prints the address as C++ prints a pointer.
        #expect(symbols.userSymbol(0x10, processID: getpid(), offset: false, module: false) == "0x10")
        #expect(symbols.userSymbol(0x10, processID: getpid(), offset: true, module: true) == "0x10 ([unknown])")
        #expect(symbols.userSymbol(0, processID: getpid(), offset: false, module: false) == "0")
    }

    @Test func mapsLinesParse() {
        let text = """
        55d0c0a00000-55d0c0a21000 r--p 00000000 fe:01 123   /usr/bin/bash
        7f0000001000-7f0000002000 r-xp 00001000 fe:01 456                  /usr/lib/x86_64-linux-gnu/libc.so.6
        7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
        7ffd00030000-7ffd00031000 rw-p 00000000 00:00 0
        garbage
        """
        let mappings = ProcessMapping.parse(text)
        #expect(mappings.count == 4)
        #expect(mappings[1] == ProcessMapping(start: 0x7f00_0000_1000, end: 0x7f00_0000_2000, fileOffset: 0x1000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6"))
        #expect(mappings[3].path == "")
    }
}

@Suite struct ELFAddressSymbolsTests {
    /// Local symbols of .symtab count (Swift's private functions, e.g. Foundation's NSThreadStart).
    @Test func localSymbolsOfALargeLibrary() throws {
        let path = "/opt/swift/usr/lib/swift/linux/libFoundation.so"
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let file = try ELFFile(bytes: [UInt8](data))
        let table = try #require(file.sections.first { $0.type == .symtab })
        let symbol = try #require(try file.symbols(in: table).first { $0.name.hasPrefix("$s10Foundation13NSThreadStart") && $0.name.hasSuffix("To") })
        let symbols = ELFAddressSymbols(file)
        let found = symbols.symbol(containing: symbol.value + 1)
        #expect(found?.name == symbol.name && found?.offset == 1, "\(String(describing: found))")
    }
}
