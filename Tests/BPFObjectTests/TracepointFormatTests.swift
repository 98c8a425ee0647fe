import BPFObject
import Testing

/// Format files as this project's test kernel (Linux 6.18) prints them.
enum TracepointFormatFixtures {
    static let sysEnterOpenat = """
name: sys_enter_openat
ID: 782
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * filename;	offset:24;	size:8;	signed:0;
	field:int flags;	offset:32;	size:8;	signed:0;
	field:umode_t mode;	offset:40;	size:8;	signed:0;

print fmt: "dfd: 0x%08lx, filename: 0x%08lx, flags: 0x%08lx, mode: 0x%08lx", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->filename)), ((unsigned long)(REC->flags)), ((unsigned long)(REC->mode))
"""

    static let schedSwitch = """
name: sched_switch
ID: 372
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:char prev_comm[16];	offset:8;	size:16;	signed:0;
	field:pid_t prev_pid;	offset:24;	size:4;	signed:1;
	field:int prev_prio;	offset:28;	size:4;	signed:1;
	field:long prev_state;	offset:32;	size:8;	signed:1;
	field:char next_comm[16];	offset:40;	size:16;	signed:0;
	field:pid_t next_pid;	offset:56;	size:4;	signed:1;
	field:int next_prio;	offset:60;	size:4;	signed:1;

print fmt: "prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), "|", { 0x00000001, "S" }, { 0x00000002, "D" }, { 0x00000004, "T" }, { 0x00000008, "t" }, { 0x00000010, "X" }, { 0x00000020, "Z" }, { 0x00000040, "P" }, { 0x00000080, "I" }) : "R", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? "+" : "", REC->next_comm, REC->next_pid, REC->next_prio
"""

    static let schedProcessExec = """
name: sched_process_exec
ID: 365
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:__data_loc char[] filename;	offset:8;	size:4;	signed:0;
	field:pid_t pid;	offset:12;	size:4;	signed:1;
	field:pid_t old_pid;	offset:16;	size:4;	signed:1;

print fmt: "filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid
"""
}

struct TracepointFormatTests {
    @Test func parsesSysEnterOpenat() throws {
        let format = try TracepointFormat(parsing: TracepointFormatFixtures.sysEnterOpenat)
        #expect(format.name == "sys_enter_openat")
        #expect(format.id != nil)
        #expect(format.commonFields.map(\.name) == ["common_type", "common_flags", "common_preempt_count", "common_pid"])
        #expect(format.commonFields.map(\.offset) == [0, 2, 3, 4])
        #expect(format.commonFields[3].isSigned && format.commonFields[3].type == "int")
        #expect(format.fields.map(\.name) == ["__syscall_nr", "dfd", "filename", "flags", "mode"])
        let filename = try #require(format.field(named: "filename"))
        #expect(filename.type == "const char *" && filename.declaration == "const char * filename")
        #expect(filename.offset == 24 && filename.size == 8 && !filename.isSigned && filename.kind == .scalar && filename.isPointer)
        #expect(format.field(named: "mode")?.type == "umode_t")
        #expect(format.recordSize == 48)
        #expect(format.printFormat?.hasPrefix("\"dfd: 0x%08lx") == true)
    }

    @Test func parsesArraysInSchedSwitch() throws {
        let format = try TracepointFormat(parsing: TracepointFormatFixtures.schedSwitch)
        #expect(format.fields.map(\.name) == ["prev_comm", "prev_pid", "prev_prio", "prev_state", "next_comm", "next_pid", "next_prio"])
        let comm = try #require(format.field(named: "next_comm"))
        #expect(comm.kind == .array(count: 16) && comm.type == "char" && comm.offset == 40 && comm.size == 16)
        #expect(format.field(named: "prev_state")?.type == "long")
        #expect(format.field(named: "next_pid")?.isSigned == true)
    }

    @Test func parsesDataLocationFields() throws {
        let format = try TracepointFormat(parsing: TracepointFormatFixtures.schedProcessExec)
        let filename = try #require(format.field(named: "filename"))
        #expect(filename.kind == .dataLocation && filename.type == "char" && filename.size == 4)
        let relative = try TracepointFormat(parsing: """
            name: synthetic
            format:
            \tfield:__rel_loc u8[] payload;\toffset:8;\tsize:4;\tsigned:0;
            """)
        #expect(relative.fields.first?.kind == .relativeLocation && relative.fields.first?.type == "u8")
    }

    @Test func acceptsOlderFilesWithoutSignedOrBlankLine() throws {
        let format = try TracepointFormat(parsing: """
            name: old_event
            ID: 7
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;
            \tfield:int value;\toffset:8;\tsize:4;
            \tfield:u8 bytes[LEN];\toffset:12;\tsize:6;
            """)
        #expect(format.id == 7 && format.commonFields.count == 1)
        #expect(format.fields.first?.isSigned == false)
        #expect(format.fields.last?.kind == .array(count: nil))
    }

    /// ext4_fc_stats's print format has a newline inside its quoted string; the lines after
    /// "print fmt:" belong to it, not to the field list.
    @Test func printFormatMaySpanLines() throws {
        let format = try TracepointFormat(parsing: """
            name: ext4_fc_stats
            ID: 1159
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;

            \tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;
            \tfield:unsigned int fc_ineligible_rc[10];\toffset:12;\tsize:40;\tsigned:0;

            print fmt: "dev %d,%d fc ineligible reasons:
            %s:%u, num_commits:%lu", REC->dev, REC->fc_ineligible_rc[0]
            """)
        #expect(format.fields.map(\.name) == ["dev", "fc_ineligible_rc"])
        #expect(format.printFormat == "\"dev %d,%d fc ineligible reasons:\n%s:%u, num_commits:%lu\", REC->dev, REC->fc_ineligible_rc[0]")
    }

    @Test(arguments: [
        ("", "no 'name:' line"),
        ("name: x\nID: twelve\n", "ID 'twelve' is not a number"),
        ("name: x\nformat:\n\tfield:int a;\toffset:0;\n", "lacks offset: or size:"),
        ("name: x\nformat:\n\tfield:int a;\toffset:-1;\tsize:4;\n", "not a non-negative number"),
        ("name: x\nformat:\n\tfield:int a;\toffset:99999999999999999999;\tsize:4;\n", "not a non-negative number"),
        ("name: x\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned\n", "has no ':'"),
        ("name: x\nformat:\n\tfield:int [4];\toffset:0;\tsize:4;\n", "cannot find the field name"),
        ("name: x\nformat:\n\tfield:a;\toffset:0;\tsize:4;\n", "has no type"),
        ("name: x\nformat:\n\tgarbage here\n", "unexpected line"),
        ("name: x\n", "no 'format:' section"),
    ])
    func rejectsBadFiles(text: String, message: String) {
        do {
            _ = try TracepointFormat(parsing: text)
            Issue.record("accepted a bad format file")
        } catch let error as TracepointFormatError {
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func mutatedFilesNeverTrap() {
        var random = SeededGenerator(state: 7)
        let alphabet = Array("field:;offset:size:signed:[]_ \t\n0123456789abc__data_loc".utf8)
        let original = Array(TracepointFormatFixtures.schedSwitch.utf8)
        for _ in 0..<2000 {
            var copy = Array(original.prefix(Int.random(in: 0...original.count, using: &random)))
            for _ in 0..<Int.random(in: 0...6, using: &random) where !copy.isEmpty {
                copy[Int.random(in: 0..<copy.count, using: &random)] = alphabet.randomElement(using: &random)!
            }
            _ = try? TracepointFormat(parsing: String(decoding: copy, as: UTF8.self))
        }
    }
}
