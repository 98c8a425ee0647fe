import BPF
import BPFObject
import Testing

@Suite(.kernel, .serialized) struct BTFKernelTests {
    static func smallBlob() -> [UInt8] {
        var b = BTFBuilder()
        let int = b.addInt("int", size: 4, encoding: .signed)
        let value = b.addStruct("btftest_value", size: 8, members: [.init("count", int, bitOffset: 0), .init("flags", int, bitOffset: 32)])
        b.addPointer(to: value)
        return b.encode()
    }

    @Test func loadsBlobAndReadsItBack() throws {
        let blob = Self.smallBlob()
        let loaded = try LoadedBTF(bytes: blob, label: "btftest small blob")
        let info = try loaded.info()
        #expect(info.id > 0)
        #expect(!info.isKernel)
        #expect(info.size == UInt32(blob.count))
        #expect(try KernelObjects.ids(of: .btf).contains(info.id))
        let reopened = try KernelObjects.open(.btf, id: info.id)
        let back = try BTF(try BTFObjectInfo.bytes(of: reopened))
        #expect(back.rawDump() == (try BTF(blob)).rawDump())
    }

    @Test func rejectedBlobCarriesTheKernelsReason() throws {
        var b = BTFBuilder()
        b.addRaw([b.addString("bad name!"), UInt32(BTFKind.struct.rawValue) << 24, 4])
        do {
            _ = try LoadedBTF(bytes: b.encode(), label: "btftest bad blob")
            Issue.record("the kernel accepted an invalid struct name")
        } catch let error as BPFError {
            #expect(error.errno == .EINVAL)
            #expect(error.description.contains("btftest bad blob"))
            #expect(error.description.contains("Invalid name"))
        }
    }

    @Test func thisKernelSupportsEveryKindAndSanitizedBlobsLoadToo() throws {
        // Linux 6.18: everything up to ENUM64 (6.0) is there.
        #expect(BTFFeatureProbe.supported() == .all)
        var b = BTFBuilder()
        let int = b.addInt("int", size: 4, encoding: .signed)
        let proto = b.addFunctionProto(returning: int, parameters: [("x", int)])
        b.addFunction("btftest_fn", prototype: proto, linkage: .global)
        let variable = b.addVariable("btftest_var", type: int, linkage: .global)
        b.addDataSection(".data", size: 4, variables: [BTFSectionVariable(type: variable, offset: 0, size: 4)])
        b.addFloat("float", size: 4)
        b.addDeclTag("btftest_tag", to: variable)
        b.addPointer(to: b.addTypeTag("btftest_user", to: int))
        b.addEnum("btftest_wide", size: 8, values: [("BTFTEST_WIDE", 1 << 40)])
        let btf = try BTF(b.encode())
        _ = try LoadedBTF(btf, label: "btftest every kind")
        // What an old kernel would get must still be valid BTF for this one.
        let sanitized = try BTFSanitizer.sanitize(btf, for: [])
        _ = try LoadedBTF(bytes: sanitized, label: "btftest sanitized")
        #expect(try BTFFeatureProbe.prepare(btf) == btf.rawBytes)
    }

    @Test func kernelBTFIsListedAndOpens() throws {
        let objects = try KernelBTF.loadedObjects()
        let vmlinux = try #require(objects.first { $0.isKernel && $0.name == "vmlinux" })
        #expect(vmlinux.size > 1_000_000)
        #expect(KernelBTF.sysfsNames().first == "vmlinux")
        let btf = try KernelBTF.vmlinux()
        #expect(btf.byteCount == Int(vmlinux.size))
        for module in KernelBTF.sysfsNames().dropFirst().prefix(3) {
            let split = try KernelBTF.module(module)
            #expect(split.base === btf)
        }
        #expect(throws: BPFError.self) { try KernelBTF.module("btftest_no_such_module") }
    }

    /// vmlinux BTF is mapped rather than read on this kernel (6.16+), with the same contents.
    @Test func vmlinuxIsMappedWithTheSameTypes() throws {
        let mapped = try #require(KernelBTF.mapped(KernelBTF.sysfsDirectory + "/vmlinux"))
        let read = try BTF(contentsOfFile: KernelBTF.sysfsDirectory + "/vmlinux")
        #expect(mapped.typeCount == read.typeCount)
        #expect(mapped.rawBytes == read.rawBytes)
        let task = try mapped.typeID(named: "task_struct", kind: .struct)
        #expect(try mapped.field("pid", in: task).byteOffset == (try read.field("pid", in: task)).byteOffset)
    }
}
