import Testing
@testable import BPFObject

@Suite struct HelperFunctionTests {
    /// The case names were generated from the kernel names; keep both in step.
    @Test func caseNamesMatchKernelNames() {
        #expect(HelperFunction.allCases.count == HelperFunction.kernelNames.count)
        for (id, helper) in HelperFunction.allCases.enumerated() {
            #expect(helper.rawValue == Int32(id))
            let parts = helper.kernelName.dropFirst(4).split(separator: "_", omittingEmptySubsequences: false)
            let camel = String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            #expect(String(describing: helper) == camel, "case \(helper) for \(helper.kernelName)")
        }
    }

    @Test func lookups() {
        #expect(HelperFunction(kernelName: "bpf_map_lookup_elem") == .mapLookupElem)
        #expect(HelperFunction(kernelName: "map_lookup_elem") == .mapLookupElem)
        #expect(HelperFunction(kernelName: "bpf_nope") == nil)
        #expect(HelperFunction(id: 211)?.kernelName == "bpf_cgrp_storage_delete")
        #expect(HelperFunction(id: 212) == nil)
        #expect(HelperFunction(id: -1) == nil)
        #expect(HelperFunction.ktimeGetNs.kernelName == "bpf_ktime_get_ns")
        #expect(HelperFunction.getCurrentPidTgid.rawValue == 14)
        #expect(HelperFunction.ringbufOutput.rawValue == 130)
        #expect(HelperFunction.userRingbufDrain.rawValue == 209)
        #expect(HelperFunction.getSmpProcessorId.kernelName == "bpf_get_smp_processor_id")
    }
}
