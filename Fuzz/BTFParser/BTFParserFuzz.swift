// libFuzzer entry point over the BTF and BTF.ext parsers and everything that reads parsed
// types. Run with `Fuzz/run.sh btf [runs]`. A trap, an ASan report or a hang is a bug:
// every input must end in a value or a thrown BTFError.

/// A tiny base for split-BTF inputs: int and a struct.
let splitBase: BTF = {
    var builder = BTFBuilder()
    let int = builder.addInt("int", size: 4, encoding: .signed)
    builder.addStruct("base", size: 4, members: [.init("v", int, bitOffset: 0)])
    return try! BTF(builder.encode())
}()

func exercise(_ btf: BTF) {
    _ = btf.rawDump()
    for id in btf.allTypeIDs {
        _ = try? btf.describe(id: id)
        _ = try? btf.size(of: id)
        _ = try? btf.alignment(of: id)
        _ = try? btf.skipModifiers(id)
        _ = try? btf.prototype(of: id)
        _ = try? btf.isPacked(id)
        if let type = try? btf.type(id) {
            for member in type.members { _ = try? btf.bitfieldLayout(member) }
            if type.kind.isComposite, let first = type.members.first(where: { !$0.isAnonymous }) {
                _ = try? btf.field(first.name, in: id)
            }
            _ = type.enumerators
            _ = type.parameters
            _ = type.sectionVariables
        }
    }
    _ = btf.typeIDs(named: "base")
    _ = try? BTFCHeaderWriter(btf: btf).header()
    _ = try? BTFSanitizer.sanitize(btf, for: [])
}

func fuzzBTF(_ data: UnsafeBufferPointer<UInt8>) {
    guard let selector = data.first else { return }
    let bytes = Array(data.dropFirst())
    switch selector % 3 {
    case 0:
        if let btf = try? BTF(bytes) { exercise(btf) }
    case 1:
        if let btf = try? BTF(bytes, base: splitBase) { exercise(btf) }
    default:
        if let ext = try? BTFExt(bytes) {
            for section in ext.lineInfo { _ = try? ext.sectionName(section, in: splitBase) }
        }
    }
}
