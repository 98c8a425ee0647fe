import BPFObject
import Foundation
import Testing
@testable import BPFTrace

/// `#include`/`#define` constants without a C preprocessor: conditionals, nested includes,
/// macros defined through other macros, casts; function-like and non-integer macros ignored.
@Suite struct HeaderMacrosTests {
    static let headers: [String: String] = [
        "/usr/include/x86_64-linux-gnu/sys/socket.h": """
            #ifndef _SYS_SOCKET_H
            #define _SYS_SOCKET_H 1
            #include <bits/socket.h>
            #define SHUT_RD 0 /* no more receptions */
            #define FUNCTION_LIKE(x) ((x) + 1)
            #endif
            """,
        "/usr/include/x86_64-linux-gnu/bits/socket.h": """
            #define PF_INET 2
            #define PF_INET6 10
            #define AF_INET PF_INET
            #define AF_INET6 PF_INET6
            #define SOCK_FLAGS (1U << 3) | \\
                0x10
            #if defined(__x86_64__) && !defined(NOT_DEFINED_X)
            #define ARCH_SIZE 8
            #else
            #define ARCH_SIZE 4
            #endif
            #define TEXT "not a number"
            #define CAST ((unsigned int)-1)
            """,
    ]

    func macros(_ script: [String]) -> HeaderMacros {
        var macros = HeaderMacros { Self.headers[$0] }
        macros.process(scriptLines: script)
        return macros
    }

    @Test func followsIncludesConditionsAndMacroChains() {
        let macros = macros(["#ifndef BPFTRACE_HAVE_BTF", "#include <linux/socket.h>", "#else", "#include <sys/socket.h>", "#endif", "#define MINE (AF_INET6 * 2)"])
        #expect(macros.value(of: "AF_INET") == 2)
        #expect(macros.value(of: "AF_INET6") == 10)
        #expect(macros.value(of: "SHUT_RD") == 0)
        #expect(macros.value(of: "SOCK_FLAGS") == 0x18)
        #expect(macros.value(of: "ARCH_SIZE") == 8)
        #expect(macros.value(of: "MINE") == 20)
        #expect(macros.value(of: "CAST") == -1)
        #expect(macros.value(of: "TEXT") == nil)
        #expect(macros.value(of: "FUNCTION_LIKE") == nil)
        #expect(macros.value(of: "UNKNOWN") == nil)
    }

    @Test func inactiveBranchesDefineNothing() {
        let macros = macros(["#ifdef BPFTRACE_HAVE_BTF", "#define A 1", "#else", "#define A 2", "#include <sys/socket.h>", "#endif", "#if 0", "#define B 1", "#elif 1", "#define B 3", "#endif"])
        #expect(macros.value(of: "A") == 1)
        #expect(macros.value(of: "B") == 3)
        #expect(macros.value(of: "AF_INET") == nil)
    }

    @Test func selfReferenceAndBadInputEndQuietly() {
        let macros = macros(["#define LOOP LOOP + 1", "#define DIV (1 / 0)", "#define OPEN ((1)", "#include", "#include <", "#else", "#endif", "#define"])
        #expect(macros.value(of: "LOOP") == nil)
        #expect(macros.value(of: "DIV") == nil)
        #expect(macros.value(of: "OPEN") == nil)
    }
}

/// Identifiers resolve to `#define`s of the script and its headers before kernel enums.
@Suite struct HeaderMacroCompileTests {
    @Test func macrosBecomeConstants() throws {
        let text = "#include <sys/socket.h>\n#define MINE (AF_INET6 + 1)\nBEGIN { @a = AF_INET; @b = MINE; }"
        let program = try #require(Parser.parse(text).program)
        var options = TraceCompileOptions()
        options.readHeader = { HeaderMacrosTests.headers[$0] }
        let script = try TraceCompiler.compile(program, formats: FixedFormats(), options: options)
        let listing = Disassembler().text(script.probes[0].instructions)
        #expect(listing.contains("= 2\n") && listing.contains("= 11\n"), "\(listing)")
        // Without the header, AF_INET is unknown (no kernel BTF given here either).
        let bare = try #require(Parser.parse("BEGIN { @a = AF_INET; }").program)
        #expect(throws: TraceCompiler.Failure.self) { try TraceCompiler.compile(bare, formats: FixedFormats()) }
    }
}
