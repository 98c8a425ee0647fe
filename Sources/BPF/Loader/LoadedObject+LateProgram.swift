import BPFObject

extension LoadedObject {
    /// Loads one more program of this object after `load()`, against the object's existing maps
    /// and BTF: BCC's `load_func`, where a function's program type is only known when the
    /// caller attaches it. `program` must come from a spec of the same object bytes (same maps
    /// by name), e.g. `ObjectSpec(elf:name:textEntryPoints:)` naming the function's section.
    /// The returned program is owned by the caller, not listed in `programs`.
    public func loadLateProgram(_ program: ObjectProgramSpec, options: ObjectLoadOptions = ObjectLoadOptions()) throws -> Program {
        var session = LoadSession(spec: spec, options: options)
        session.objectBTF = btf
        session.maps = maps
        return try session.loadProgram(program)
    }
}
