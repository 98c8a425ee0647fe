import BPFCompiler
import Testing

/// BCC's histogram layouts, column for column (bcc/table.py `_print_log2_hist`,
/// `_print_linear_hist`): header, `low -> high : count |stars|` rows, bar scaling.
@Suite("BCC histogram layout")
struct HistogramTests {
    @Test func log2NarrowLayout() {
        var buckets = [UInt64](repeating: 0, count: 64)
        buckets[1] = 1; buckets[2] = 0; buckets[3] = 4; buckets[4] = 8
        let expected = """
                 usecs               : count     distribution
                     0 -> 1          : 1        |*****                                   |
                     2 -> 3          : 0        |                                        |
                     4 -> 7          : 4        |********************                    |
                     8 -> 15         : 8        |****************************************|

            """
        #expect(Histogram.log2(buckets, valueType: "usecs") == expected)
    }

    @Test func log2StripsLeadingZeroRowsWhenAsked() {
        var buckets = [UInt64](repeating: 0, count: 64)
        buckets[10] = 3; buckets[12] = 6
        let text = Histogram.log2(buckets, valueType: "nsecs", stripLeadingZero: true)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "     nsecs               : count     distribution")
        #expect(lines[1] == "       512 -> 1023       : 3        |********************                    |")
        #expect(lines[2] == "      1024 -> 2047       : 0        |                                        |")
        #expect(lines[3] == "      2048 -> 4095       : 6        |****************************************|")
        #expect(lines.count == 5)
    }

    @Test func log2WideLayoutPast32Slots() {
        var buckets = [UInt64](repeating: 0, count: 65)
        buckets[33] = 2; buckets[34] = 1
        let lines = Histogram.log2(buckets, valueType: "bytes").split(separator: "\n")
        #expect(lines[0] == "               bytes                         : count     distribution")
        #expect(lines[1] == "                   0 -> 1                    : 0        |                    |")
        #expect(lines[33] == "          4294967296 -> 8589934591           : 2        |********************|")
        #expect(lines[34] == "          8589934592 -> 17179869183          : 1        |**********          |")
    }

    @Test func log2EmptyPrintsNothing() {
        #expect(Histogram.log2([UInt64](repeating: 0, count: 64)) == "")
        #expect(Histogram.log2([5]) == "", "slot 0 alone is never printed")
    }

    @Test func linearLayout() {
        let text = Histogram.linear([2, 0, 1], valueType: "queue")
        let expected = """
                 queue         : count     distribution
                    0          : 2        |****************************************|
                    1          : 0        |                                        |
                    2          : 1        |********************                    |

            """
        #expect(text == expected)
        #expect(Histogram.linear([0, 0]) == "")
    }

    @Test func log2SectionsPrintAHeaderPerSection() {
        let text = Histogram.log2Sections([("sda", [0, 2]), ("sdb", [0, 0, 1])], valueType: "usecs", sectionHeader: "disk")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "" && lines[1] == "disk = sda")
        #expect(lines[2] == "     usecs               : count     distribution")
        #expect(lines[3] == "         0 -> 1          : 2        |****************************************|")
        #expect(lines[4] == "" && lines[5] == "disk = sdb")
        #expect(lines[8] == "         2 -> 3          : 1        |****************************************|")
    }
}
