import BPFObject
import Foundation

/// Which BTF kinds the running kernel accepts, found by loading one tiny blob per feature
/// (the kernel's answer, not a version guess). Cached per process.
public enum BTFFeatureProbe {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cached: BTFKernelFeatures?

    public static func supported() -> BTFKernelFeatures {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        var features: BTFKernelFeatures = []
        for (feature, blob) in probes() where LoadedBTF.attempt(blob, logSize: 0, label: "BTF feature probe").fd != nil {
            features.insert(feature)
        }
        cached = features
        return features
    }

    /// Program BTF ready for this kernel: unchanged if it uses nothing missing, else sanitized.
    public static func prepare(_ btf: BTF) throws -> [UInt8] {
        let features = supported()
        guard BTFSanitizer.needsSanitizing(btf, for: features) else { return btf.rawBytes }
        return try BTFSanitizer.sanitize(btf, for: features)
    }

    /// One minimal blob per feature, each valid on a kernel that has it.
    static func probes() -> [(BTFKernelFeatures, [UInt8])] {
        var result: [(BTFKernelFeatures, [UInt8])] = []
        func blob(_ build: (inout BTFBuilder, UInt32) -> Void) -> [UInt8] {
            var builder = BTFBuilder()
            let int = builder.addInt("int", size: 4, encoding: .signed)
            build(&builder, int)
            return builder.encode()
        }
        result.append((.functions, blob { builder, int in
            let proto = builder.addFunctionProto(returning: int, parameters: [("x", int)])
            builder.addFunction("f", prototype: proto)
        }))
        result.append((.globalFunctions, blob { builder, int in
            let proto = builder.addFunctionProto(returning: int, parameters: [("x", int)])
            builder.addFunction("f", prototype: proto, linkage: .global)
        }))
        result.append((.dataSections, blob { builder, int in
            let variable = builder.addVariable("v", type: int, linkage: .global)
            builder.addDataSection(".data", size: 4, variables: [BTFSectionVariable(type: variable, offset: 0, size: 4)])
        }))
        result.append((.float, blob { builder, _ in builder.addFloat("float", size: 4) }))
        result.append((.declTag, blob { builder, int in
            let variable = builder.addVariable("v", type: int, linkage: .global)
            builder.addDeclTag("tag", to: variable)
        }))
        result.append((.typeTag, blob { builder, int in
            let tag = builder.addTypeTag("tag", to: int)
            builder.addPointer(to: tag)
        }))
        result.append((.enum64, blob { builder, _ in
            builder.addEnum("e", size: 8, signed: false, values: [("E", 1 << 40)], forceEnum64: true)
        }))
        return result
    }
}
