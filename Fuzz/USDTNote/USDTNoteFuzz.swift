// libFuzzer entry point over USDT parsing: `.note.stapsdt` descriptors, argument spec lists for
// x86-64 and AArch64, the spec-map encoding, and whole ELF files (notes, prelink adjustment,
// address → file offset). Run with `Fuzz/run.sh usdt [runs]`. A trap, an ASan report
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

func fuzzUSDT(_ data: UnsafeBufferPointer<UInt8>) {
    guard let selector = data.first else { return }
    let bytes = Array(data.dropFirst())
    switch selector {
    case 0:
        for littleEndian in [true, false] {
            if let note = try? USDTNote(descriptor: bytes, isLittleEndian: littleEndian) { exercise(arguments: note.arguments) }
        }
    case 1:
        exercise(arguments: String(decoding: bytes, as: UTF8.self))
    default:
        guard let file = try? ELFFile(bytes: bytes), let notes = try? file.usdtNotes() else { return }
        for note in notes {
            _ = try? file.usdtProbeSites(provider: note.provider, name: note.name)
            exercise(arguments: note.arguments)
        }
    }
}
