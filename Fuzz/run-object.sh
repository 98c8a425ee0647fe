#!/bin/sh
# Fuzzes ObjectSpec (ELF + BTF + BTF.ext + relocations + linking + CO-RE + kconfig) with
# libFuzzer and AddressSanitizer: the same as `Fuzz/run.sh object [runs]`.
# Seeds in Fuzz/corpus/object are Fuzz/ObjectSpec/seeds/*.bpf.c compiled with
#   clang -target bpf -g -O2 -I /usr/include/$(uname -m)-linux-gnu -I bpf/include -c X.bpf.c
# and `llvm-strip --strip-debug` (BTF stays, DWARF goes) to keep them small.
exec "$(dirname "$0")/run.sh" object "$@"
