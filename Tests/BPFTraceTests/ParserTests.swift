import Testing
@testable import BPFTrace

@Suite struct PrecedenceTests {
    /// C precedence and associativity, in the compact form.
    @Test(arguments: [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("1 * 2 + 3", "(+ (* 1 2) 3)"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
        ("1 % 2 * 3", "(* (% 1 2) 3)"),
        ("1 << 2 + 3", "(<< 1 (+ 2 3))"),
        ("1 << 2 >> 3", "(>> (<< 1 2) 3)"),
        ("1 < 2 == 3 > 4", "(== (< 1 2) (> 3 4))"),
        ("1 <= 2 >= 3", "(>= (<= 1 2) 3)"),
        ("1 == 2 != 3", "(!= (== 1 2) 3)"),
        ("1 & 2 == 3", "(& 1 (== 2 3))"),
        ("1 | 2 ^ 3 & 4", "(| 1 (^ 2 (& 3 4)))"),
        ("1 || 2 && 3", "(|| 1 (&& 2 3))"),
        ("1 && 2 || 3 && 4", "(|| (&& 1 2) (&& 3 4))"),
        ("1 | 2 && 3", "(&& (| 1 2) 3)"),
        ("1 ? 2 : 3 ? 4 : 5", "(? 1 2 (? 3 4 5))"),
        ("1 ? 2 ? 3 : 4 : 5", "(? 1 (? 2 3 4) 5)"),
        ("1 || 2 ? 3 : 4", "(? (|| 1 2) 3 4)"),
        ("!1 && ~2", "(&& (! 1) (~ 2))"),
        ("-$x * 2", "(* (- $x) 2)"),
        ("-1 * 2", "(* -1 2)"),
        ("3 - -2", "(- 3 -2)"),
        ("- 5", "-5"),
        ("-(5)", "(- 5)"),
        ("!!$x", "(! (! $x))"),
        ("*arg0 + 1", "(+ (* arg0) 1)"),
        ("**arg0", "(* (* arg0))"),
        ("(uint32)arg0 + 1", "(+ (cast uint32 arg0) 1)"),
        ("(int8)-1", "(cast int8 -1)"),
        ("(struct task_struct *)curtask->mm", "(cast struct task_struct* (-> curtask mm))"),
        ("((struct task_struct *)curtask)->mm->owner", "(-> (-> (cast struct task_struct* curtask) mm) owner)"),
        ("(uint8 **)0", "(cast uint8** 0)"),
        ("$a.b.c", "(. (. $a b) c)"),
        ("arg0[1][2]", "([] ([] arg0 1) 2)"),
        ("args->a[1].b", "(. ([] (-> args a) 1) b)"),
        ("@t.0.1", "(. (. @t 0) 1)"),
        ("$x++ + 1", "(+ (post++ $x) 1)"),
        ("++$x * 2", "(* (++ $x) 2)"),
        ("@m[1, 2]--", "(post-- (@m 1 2))"),
        ("(1, (2, 3))", "(tuple 1 (tuple 2 3))"),
        ("printf(\"%d\", 1 + 2)", "(printf \"%d\" (+ 1 2))"),
        ("kstack(perf, 5)", "(kstack perf 5)"),
        ("kstack", "kstack"),
        ("sizeof(struct task_struct)", "(sizeof struct task_struct)"),
        ("offsetof(struct task_struct, mm.owner)", "(offsetof struct task_struct mm.owner)"),
        ("$1 + $#", "(+ $1 $#)"),
        ("1 + 2 == 3 && 4 | 5 ^ 6 & 7 << 8 * 9", "(&& (== (+ 1 2) 3) (| 4 (^ 5 (& 6 (<< 7 (* 8 9))))))"),
    ])
    func expression(source: String, expected: String) {
        #expect(statement(source) == expected)
    }

    @Test(arguments: [
        ("@x = 1", "(= @x 1)"),
        ("@x[pid, comm] = count()", "(= (@x pid comm) (count))"),
        ("$x += 2 * 3", "(+= $x (* 2 3))"),
        ("@ <<= 1", "(<<= @ 1)"),
        ("$x = $y = 1", nil),
        ("if ($x) { @a = 1 } else if ($y) { @b = 2 } else { @c = 3 }", "(if $x {(= @a 1)} {(if $y {(= @b 2)} {(= @c 3)})})"),
        ("while ($i < 3) { $i++; }", "(while (< $i 3) {(post++ $i)})"),
        ("unroll(3) { @x++ }", "(unroll 3 {(post++ @x)})"),
        ("unroll($1) { @x++ }", "(unroll $1 {(post++ @x)})"),
        ("break", "(break)"),
        ("return", "(return)"),
    ] as [(String, String?)])
    func statements(source: String, expected: String?) {
        #expect(statement(source) == expected)
    }

    @Test func compoundAssignmentBuildsTheOperation() throws {
        let program = try #require(Parser.parse("BEGIN { $x -= 2 }").program)
        guard case .assignVariable(let variable, let value, let compound) = program.probes[0].body.statements[0].kind else {
            Issue.record("not an assignment")
            return
        }
        #expect(compound == .subtract)
        #expect(variable.kind == .variable("$x"))
        #expect(ASTPrinter.sExpression(value) == "(- $x 2)")
    }

    @Test func everyNodeHasItsSourceRange() throws {
        let text = "kprobe:f /pid == 1/ {\n  @m[tid] = count();\n  $x = (1 + 2) * 3;\n}"
        let program = try #require(Parser.parse(text).program)
        let file = SourceFile(name: "t", text: text)
        let probe = program.probes[0]
        #expect(file.text(of: probe.attachPoints[0].range) == "kprobe:f")
        #expect(file.text(of: probe.predicate!.range) == "pid == 1")
        #expect(file.text(of: probe.body.range) == "{\n  @m[tid] = count();\n  $x = (1 + 2) * 3;\n}")
        let first = probe.body.statements[0]
        #expect(file.text(of: first.range) == "@m[tid] = count()")
        #expect(file.text(of: first.operatorRange!) == "=")
        guard case .assignVariable(_, let value, _) = probe.body.statements[1].kind else { return }
        #expect(file.text(of: value.range) == "(1 + 2) * 3")
        #expect(file.text(of: value.operatorRange!) == "*")
        #expect(probe.body.statements[1].range.begin.line == 3)
    }

    @Test func programParts() throws {
        let text = """
        #!/usr/bin/env bpftrace
        #include <linux/sched.h>
        #include "local.h"
        struct point { int x; int y; char *name; long v[4]; unsigned int flags : 3; };
        enum color { RED, GREEN = 5, BLUE };
        BEGIN { printf("hi\\n"); }
        kprobe:a, kprobe:b /pid/ { @[probe] = count(); }
        """
        let program = try #require(Parser.parse(text).program)
        #expect(program.preprocessorLines.compactMap(\.includedHeader) == ["linux/sched.h", "local.h"])
        #expect(program.cDefinitions.count == 2)
        let point = try #require(program.cDefinitions[0].parsed)
        #expect(point.keyword == .struct && point.name == "point")
        #expect(point.fields.map(\.name) == ["x", "y", "name", "v", "flags"])
        #expect(point.fields[2].type == "char *" && point.fields[2].pointerDepth == 1)
        #expect(point.fields[3].arrayLength == 4)
        #expect(point.fields[4].bitWidth == 3 && point.fields[4].type == "unsigned int")
        let color = try #require(program.cDefinitions[1].parsed)
        #expect(color.enumerators.map(\.name) == ["RED", "GREEN", "BLUE"])
        #expect(color.enumerators.map(\.value) == [0, 5, 6])
        #expect(program.probes.count == 2)
        #expect(program.probes[1].attachPoints.map(\.name) == ["kprobe:a", "kprobe:b"])
    }

    @Test func configBlockIsAccepted() throws {
        let program = try #require(Parser.parse("config = { max_map_keys = 100; stack_mode = perf } BEGIN { }").program)
        #expect(program.config.map(\.name) == ["max_map_keys", "stack_mode"])
        #expect(program.probes.count == 1)
    }

    @Test func multipleProbesAndEmptyBlocks() throws {
        let program = try #require(Parser.parse("BEGIN {} END {} i:s:1 { exit() }").program)
        #expect(program.probes.map { $0.attachPoints[0].name } == ["BEGIN", "END", "interval:s:1"])
    }
}

@Suite struct AttachPointTests {
    func point(_ raw: String) -> AttachPoint {
        AttachPoint(raw: raw, range: SourceRange(at: .start))
    }

    @Test func splitsFields() {
        let uprobe = point("uprobe:/bin/bash:readline")
        #expect(uprobe.provider == "uprobe" && uprobe.target == "/bin/bash" && uprobe.function == "readline")
        let tracepoint = point("t:syscalls:sys_enter_*")
        #expect(tracepoint.provider == "tracepoint" && tracepoint.target == "syscalls" && tracepoint.function == "sys_enter_*")
        #expect(tracepoint.needsExpansion)
        let usdt = point("usdt:/usr/bin/python3:python:function__entry")
        #expect(usdt.target == "/usr/bin/python3" && usdt.namespace == "python" && usdt.function == "function__entry")
        let kprobe = point("kprobe:do_sys_open+0x10")
        #expect(kprobe.function == "do_sys_open" && kprobe.offset == 16 && kprobe.name == "kprobe:do_sys_open+16")
        #expect(point("profile:hz:99").frequency == 99)
        #expect(point("interval:s:1").name == "interval:s:1")
        #expect(point("hardware:cycles:1e6").frequency == 1_000_000)
        #expect(point("software:cpu-clock").target == "cpu-clock")
        #expect(point("watchpoint:0x1000:8:rw").name == "watchpoint:4096:8:rw")
        #expect(point("kfunc:vmlinux:vfs_read").target == "vmlinux")
        #expect(point("fentry:vfs_read").provider == "kfunc")
        #expect(point("uprobe:libc:malloc").target == "libc")
        #expect(point("uprobe:/bin/bash:0x1000").address == 0x1000)
        #expect(point("BEGIN").name == "BEGIN")
    }

    @Test func reportsProblemsWithoutFailingTheParse() {
        #expect(point("foo:bar").problem == "Invalid probe type: foo")
        #expect(point("profile:xx:99").problem != nil)
        #expect(point("kprobe:f+zz").problem != nil)
        #expect(point("tracepoint:only").problem != nil)
        #expect(Parser.parse("foo:bar { }").succeeded)
    }
}
