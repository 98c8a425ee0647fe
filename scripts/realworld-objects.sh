#!/bin/sh
# Collects BPF objects nobody in this project wrote into one directory (default
# .build/realworld-objects): the skeleton objects embedded in the libbpf-tools binaries,
# the .o files xdp-tools/libxdp ship, and cilium/ebpf's little-endian testdata.
# Usage: scripts/realworld-objects.sh [outdir]     (installs the three packages if missing)
set -eu
cd "$(dirname "$0")/.."
out=${1:-.build/realworld-objects}
mkdir -p "$out"
for package in libbpf-tools xdp-tools golang-github-cilium-ebpf-dev; do
    dpkg -s "$package" >/dev/null 2>&1 || apt-get install -y "$package" >/dev/null
done
# A skeleton keeps the object's ELF image verbatim in the tool's .rodata: find every
# "\x7fELF" whose e_machine is EM_BPF (247) and cut it at the end of its section header table
# (e_shoff + e_shnum * e_shentsize), which libbpf-generated objects place last.
for tool in $(dpkg -L libbpf-tools | grep '^/usr/sbin/'); do
    python3 - "$tool" "$out/libbpf-tools-$(basename "$tool")" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
start, found = 0, 0
while True:
    at = data.find(b'\x7fELF', start)
    if at < 0: break
    start = at + 4
    header = data[at:at + 64]
    if len(header) < 64 or header[4] != 2 or header[5] != 1: continue  # ELF64, little-endian
    if struct.unpack_from('<H', header, 18)[0] != 247: continue
    shoff, = struct.unpack_from('<Q', header, 40)
    shentsize, shnum = struct.unpack_from('<HH', header, 58)
    size = shoff + shnum * shentsize
    if shentsize != 64 or at + size > len(data): continue
    suffix = '' if found == 0 else '-%d' % found
    open(sys.argv[2] + suffix + '.bpf.o', 'wb').write(data[at:at + size])
    found += 1
PY
done
for object in /usr/lib/x86_64-linux-gnu/bpf/*.o; do
    [ -f "$object" ] && cp "$object" "$out/xdp-tools-$(basename "$object")"
done
for elf in $(dpkg -L golang-github-cilium-ebpf-dev | grep -- '-el\.elf$'); do
    parent=$(basename "$(dirname "$(dirname "$elf")")")
    cp "$elf" "$out/cilium-$parent-$(basename "$elf" .elf).o"
done
ls "$out" | wc -l | sed 's/$/ objects in '"$(echo "$out" | sed 's,/,\\/,g')"'/'
