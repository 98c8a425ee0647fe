import BPFObject

/// SEAM(core): where CO-RE relocations are applied. The CO-RE engine lives on branch `core`
/// (`CORERelocator.apply(records:to:localBTF:targets:)`); until it is merged, objects that
/// carry CO-RE relocations are refused with a clear error instead of being loaded wrongly.
/// Verified against branch `core` (f52e26e): with this body, LoaderTests'
/// coreRelocatedFieldReadOrClearRefusal reads the right task->tgid. After the merge the body becomes:
///     _ = try CORERelocator.apply(records: records, to: &instructions, localBTF: localBTF, targets: targets())
enum ObjectCORE {
    static func apply(records: [CORERelocationRecord], to instructions: inout [Instruction], localBTF: BTF,
                      targets: () throws -> [BTF], program: String) throws {
        guard !records.isEmpty else { return }
        throw BPFError.unsupported(
            feature: "CO-RE relocations",
            detail: "program '\(program)' has \(records.count) CO-RE relocation(s) (BPF_CORE_READ / preserve_access_index), and the CO-RE engine is not in this build yet")
    }
}
