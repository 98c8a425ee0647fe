import Testing
@testable import BPFObject
