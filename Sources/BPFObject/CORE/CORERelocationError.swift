/// Why a CO-RE relocation could not be applied. Like libbpf, these fail the whole program
/// (a relocation that merely finds no target is not an error: its instruction is poisoned).
public struct CORERelocationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong with the relocation.
    public enum Problem: String, Sendable, Equatable {
        /// The access string is empty, not `N:N:...`, or does not walk the local type.
        case malformedAccessString
        /// The record's kind is not one of `enum bpf_core_relo_kind`.
        case unsupportedKind
        /// Candidate search needs a named local type (libbpf: "doesn't support anonymous types").
        case anonymousLocalType
        /// Several target candidates matched but disagree on the value or field offset.
        case ambiguousTargets
        /// The relocated instruction is missing, of a class CO-RE cannot patch, or malformed.
        case badInstruction
        /// The instruction does not hold the value the local BTF predicts (object and BTF disagree).
        case unexpectedInstructionValue
        /// The new value does not fit the instruction field (an offset above 32767).
        case valueOutOfRange
        /// A bitfield cannot be read with one load of at most 8 bytes.
        case unsatisfiableBitfield
        /// The local or target BTF is inconsistent (a type without size, a dangling id, a cycle).
        case invalidType
    }

    /// Position of the record among those passed to `CORERelocator.apply` (libbpf's `relo #N`).
    public let relocationIndex: Int
    public let instructionIndex: Int
    public let problem: Problem
    public let detail: String

    public init(relocationIndex: Int, instructionIndex: Int, problem: Problem, detail: String) {
        self.relocationIndex = relocationIndex
        self.instructionIndex = instructionIndex
        self.problem = problem
        self.detail = detail
    }

    public var description: String {
        "CO-RE relocation #\(relocationIndex) (insn #\(instructionIndex)): \(detail)"
    }
}

/// A failure inside the engine before the relocation index is attached.
struct COREFailure: Error {
    let problem: CORERelocationError.Problem
    let detail: String
    init(_ problem: CORERelocationError.Problem, _ detail: String) {
        self.problem = problem
        self.detail = detail
    }
}
