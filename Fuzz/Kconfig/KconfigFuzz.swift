// libFuzzer entry point over kernel configuration text (/proc/config.gz, /boot/config-*) and
// the encoding of its values into the `.kconfig` map for every extern type libbpf knows. Run
// with `Fuzz/run.sh kconfig [runs]`. The first byte chooses the extern's C type and size (the
// loader takes both from the object's BTF, so both are untrusted); the rest is config text.
// Every CONFIG_ name in it becomes an extern, so each value is encoded. A trap, an ASan report
// or a hang is a bug.

func fuzzKconfig(_ data: UnsafeBufferPointer<UInt8>) {
    guard let selector = data.first else { return }
    let text = String(decoding: data.dropFirst(), as: UTF8.self)
    let config = KconfigValues.parse(text)
    _ = KconfigValues.kernelVersion(release: text)
    let kinds: [ObjectExtern.KconfigValueKind] = [.bool, .tristate, .char, .integer(signed: true), .integer(signed: false), .string]
    let kind = kinds[Int(selector) % kinds.count]
    // Sizes 0…9 reach the edges: empty, every integer width, and wider than 8 bytes.
    let size = UInt32(selector / UInt8(kinds.count)) % 10
    var offset: UInt32 = 0
    var externs: [ObjectExtern] = []
    for name in config.keys.sorted() {
        externs.append(ObjectExtern(name: name, kind: .kconfig(offset: offset, size: size, valueKind: kind), isWeak: true, typeID: 0))
        offset += size
    }
    externs.append(ObjectExtern(name: "LINUX_KERNEL_VERSION", kind: .kconfig(offset: offset, size: size, valueKind: kind), isWeak: false, typeID: 0))
    _ = try? KconfigValues.mapValue(for: externs, valueSize: Int(offset + size), config: config,
                                    kernelVersion: KconfigValues.kernelVersion(release: text),
                                    hasSyscallWrapper: true, hasBPFCookie: true)
}
