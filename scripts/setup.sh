#!/usr/bin/env bash
# Installs what the tests and benchmarks compare against (bpftool, libbpf, iproute2, ping) on a
# fresh Debian machine. SwiftBPF itself needs none of these at run time.
set -euo pipefail
packages=(bpftool bpftrace libbpf-dev libbpf-tools xdp-tools golang-github-cilium-ebpf-dev libelf-dev zlib1g-dev systemtap-sdt-dev iproute2 iputils-ping util-linux procps)
packages+=(openssl linux-libc-dev)  # Examples: ssl-sniff --self-test (s_server/s_client), seccomp-profile (syscall names)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing packages ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
