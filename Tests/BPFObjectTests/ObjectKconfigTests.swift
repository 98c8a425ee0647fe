import BPFObject
import Testing

@Suite("Object kconfig")
struct ObjectKconfigTests {
    static let config = KconfigValues.parse("""
        # comment
        CONFIG_BPF=y
        CONFIG_MODULE_THING=m
        # CONFIG_OFF is not set
        CONFIG_HZ=250
        CONFIG_NEG=-5
        CONFIG_HEX=0x1f
        CONFIG_NAME="swift bpf"
        """)

    func value(_ name: String, _ kind: ObjectExtern.KconfigValueKind, size: UInt32, weak: Bool = false) throws -> [UInt8] {
        let item = ObjectExtern(name: name, kind: .kconfig(offset: 0, size: size, valueKind: kind), isWeak: weak, typeID: 1)
        return try KconfigValues.mapValue(for: [item], valueSize: Int(size), config: Self.config, kernelVersion: 0x061200, hasSyscallWrapper: true)
    }

    @Test func followsLibbpfValueRules() throws {
        #expect(try value("CONFIG_BPF", .bool, size: 1) == [1])
        #expect(try value("CONFIG_MODULE_THING", .bool, size: 1) == [1])
        #expect(try value("CONFIG_MODULE_THING", .tristate, size: 4) == [2, 0, 0, 0])
        #expect(try value("CONFIG_BPF", .char, size: 1) == [UInt8(ascii: "y")])
        #expect(try value("CONFIG_HZ", .integer(signed: false), size: 4) == [250, 0, 0, 0])
        #expect(try value("CONFIG_NEG", .integer(signed: true), size: 2) == [0xfb, 0xff])
        #expect(try value("CONFIG_HEX", .integer(signed: false), size: 8) == [0x1f, 0, 0, 0, 0, 0, 0, 0])
        #expect(try value("CONFIG_NAME", .string, size: 6) == Array("swift".utf8) + [0])
        #expect(try value("LINUX_KERNEL_VERSION", .integer(signed: false), size: 4) == [0, 0x12, 0x06, 0])
        #expect(try value("LINUX_HAS_SYSCALL_WRAPPER", .bool, size: 1) == [1])
        // Absent: zero when weak, an error otherwise.
        #expect(try value("CONFIG_OFF", .bool, size: 1, weak: true) == [0])
        #expect(throws: ObjectError.self) { try value("CONFIG_OFF", .bool, size: 1) }
        // Values that do not fit or have the wrong form are errors.
        #expect(throws: ObjectError.self) { try value("CONFIG_HZ", .integer(signed: true), size: 1) }
        #expect(throws: ObjectError.self) { try value("CONFIG_HZ", .bool, size: 1) }
        #expect(throws: ObjectError.self) { try value("CONFIG_BPF", .string, size: 4) }
        #expect(KconfigValues.kernelVersion(release: "6.18.44-fc-v769") == 6 << 16 | 18 << 8 | 44)
        #expect(KconfigValues.kernelVersion(release: "5.4.300") == 5 << 16 | 4 << 8 | 255)
    }

    /// Found by `Fuzz/run.sh kconfig`: these used to trap instead of encoding or throwing.
    @Test func edgeValuesFromTheFuzzerNeverTrap() throws {
        let config = KconfigValues.parse("CONFIG_MIN=-0x8000000000000000\nCONFIG_S=\"x\"\nCONFIG_N=7\n")
        func value(_ name: String, _ kind: ObjectExtern.KconfigValueKind, size: UInt32) throws -> [UInt8] {
            let item = ObjectExtern(name: name, kind: .kconfig(offset: 0, size: size, valueKind: kind), isWeak: false, typeID: 1)
            return try KconfigValues.mapValue(for: [item], valueSize: Int(size), config: config, kernelVersion: 0, hasSyscallWrapper: true)
        }
        // Negating Int64.min overflowed; C's strtoull wraps modulo 2^64.
        #expect(try value("CONFIG_MIN", .integer(signed: true), size: 8) == [0, 0, 0, 0, 0, 0, 0, 0x80])
        // A zero-sized extern (its size comes from untrusted BTF) underflowed `size - 1` and `bits - 1`.
        #expect(throws: ObjectError.self) { try value("CONFIG_S", .string, size: 0) }
        #expect(throws: ObjectError.self) { try value("CONFIG_N", .integer(signed: true), size: 0) }
    }
}
