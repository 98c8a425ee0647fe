import BPFObject

/// Where the loader applies CO-RE relocations: the pure engine (`CORERelocator`, resolving
/// against vmlinux BTF as libbpf does) patches the linked program's instructions, whose
/// relocation records were rebased to the linked program by the object linker.
enum ObjectCORE {
    static func apply(records: [CORERelocationRecord], to instructions: inout [Instruction], localBTF: BTF,
                      targets: () throws -> [BTF], program: String) throws {
        guard !records.isEmpty else { return }
        do {
            _ = try CORERelocator.apply(records: records, to: &instructions, localBTF: localBTF, targets: targets())
        } catch let error as BPFError {
            throw error
        } catch {
            throw BPFError.invalidArgument("CO-RE relocation of program '\(program)' failed: \(error)")
        }
    }
}
