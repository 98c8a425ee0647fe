// libFuzzer entry point over BPF object parsing: ELF sections and symbols, BTF and BTF.ext, map
// and program definitions, relocations, subprogram linking, externs — everything
// ObjectSpec(elf:) does — then CO-RE over every program against the object's own BTF and the
// .kconfig value. Run with `Fuzz/run.sh object [runs]`. A trap, an ASan report or a
// hang is a bug: every input must end in a value or a thrown error.

func fuzzObject(_ data: UnsafeBufferPointer<UInt8>) {
    guard let spec = try? ObjectSpec(elf: Array(data), name: "fuzz") else { return }
    _ = spec.maps.map { ($0.name, $0.spec, $0.isReadOnly, $0.initialSlots.count) }
    _ = spec.variables.map { spec.variable(named: $0.name) }
    if let btf = spec.btf {
        for program in spec.programs {
            _ = program.attachTarget
            var instructions = program.spec.instructions
            _ = try? CORERelocator.apply(records: program.coreRelocations, to: &instructions, localBTF: btf, targets: [btf])
        }
    }
    _ = try? KconfigValues.mapValue(for: spec.externs, valueSize: 64, config: ["CONFIG_BPF": "y", "CONFIG_HZ": "250"],
                                    kernelVersion: 0x61200, hasSyscallWrapper: true, hasBPFCookie: true)
}
