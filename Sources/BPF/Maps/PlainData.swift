/// Converting plain-old-data Swift values to and from the byte buffers the map syscalls exchange.
///
/// The typed maps require `BitwiseCopyable` keys and values, so a type holding references
/// (classes, `String`, `Array`) is refused at compile time; sizes are checked at run time against
/// the map's key and value sizes.
enum PlainData {
    /// Checks that `T` can stand for `byteCount` bytes of `role` in `label`.
    ///
    /// Swift sizes omit tail padding that C counts (`struct { u64; u32 }` is 12 bytes in Swift,
    /// 16 in C), so a type whose size or stride equals the kernel's size is accepted.
    static func check<T: BitwiseCopyable>(_ type: T.Type, matches byteCount: Int, role: String, in label: String) throws {
        let size = MemoryLayout<T>.size, stride = MemoryLayout<T>.stride
        guard size == byteCount || (stride == byteCount && size <= byteCount) else {
            throw BPFError.invalidArgument("\(label) has \(byteCount)-byte \(role)s, but \(T.self) is \(size) bytes (stride \(stride))")
        }
    }

    /// The bytes of `value`, zero-padded to `byteCount`.
    static func bytes<T: BitwiseCopyable>(of value: T, count byteCount: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: byteCount)
        withUnsafeBytes(of: value) { source in
            result.withUnsafeMutableBytes { target in
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(byteCount)))
            }
        }
        return result
    }

    /// Writes the bytes of `value` into `buffer` at `offset`.
    static func store<T: BitwiseCopyable>(_ value: T, into buffer: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value) { source in
            buffer.withUnsafeMutableBytes { target in
                let count = min(source.count, target.count - offset)
                guard count > 0 else { return }
                UnsafeMutableRawBufferPointer(rebasing: target[offset..<(offset + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source.prefix(count)))
            }
        }
    }

    /// A `T` read from `bytes` at `offset` (missing trailing bytes read as zero).
    static func load<T: BitwiseCopyable>(_ type: T.Type, from bytes: [UInt8], at offset: Int = 0) -> T {
        bytes.withUnsafeBytes { source in load(type, from: source, at: offset) }
    }

    static func load<T: BitwiseCopyable>(_ type: T.Type, from source: UnsafeRawBufferPointer, at offset: Int = 0) -> T {
        let size = MemoryLayout<T>.size
        if offset + size <= source.count {
            return source.loadUnaligned(fromByteOffset: offset, as: T.self)
        }
        var padded = [UInt8](repeating: 0, count: size)
        let available = max(0, min(size, source.count - offset))
        for index in 0..<available { padded[index] = source[offset + index] }
        return padded.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }
}
