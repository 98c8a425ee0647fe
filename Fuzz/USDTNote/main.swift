// libFuzzer entry point over USDT parsing: `.note.stapsdt` descriptors, argument spec lists for
// x86-64 and AArch64, the spec-map encoding, and whole ELF files (notes, prelink adjustment,
// address → file offset). Build and run with `Fuzz/run.sh usdt [runs]`. A trap, an ASan report
// or a hang is a bug: every input must end in a value or a thrown error.
//
// The first byte chooses what the rest is: 0 a note descriptor, 1 an argument list, otherwise
// an ELF file.

func exercise(arguments text: String) {
    for architecture in [USDTArchitecture.x86_64, .arm64] {
        guard let arguments = try? USDTArgument.parseList(text, architecture: architecture) else { continue }
        _ = try? USDTSpecLayout.libbpf.encode(arguments, cookie: 1, spec: text)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] {
    case 0:
        for littleEndian in [true, false] {
            if let note = try? USDTNote(descriptor: bytes, isLittleEndian: littleEndian) { exercise(arguments: note.arguments) }
        }
    case 1:
        exercise(arguments: String(decoding: bytes, as: UTF8.self))
    default:
        guard let file = try? ELFFile(bytes: bytes), let notes = try? file.usdtNotes() else { return 0 }
        for note in notes {
            _ = try? file.usdtProbeSites(provider: note.provider, name: note.name)
            exercise(arguments: note.arguments)
        }
    }
    return 0
}
