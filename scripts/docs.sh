#!/usr/bin/env bash
# Builds the DocC documentation of BPF, BPFObject and BPFTrace (the swift-docc-plugin, with
# the toolchain's docc) and fails on any DocC warning (a broken symbol or article link, an
# unknown topic) and on any public type of BPF or BPFObject without a `///` doc comment.
#
#   scripts/docs.sh                 # archives in .build/plugins/Swift-DocC/outputs/<Target>.doccarchive
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import os, re, sys
declaration = re.compile(r'\s*(?:@\w+(?:\([^)]*\))?\s+)*public\s+(?:final\s+|indirect\s+)?(?:struct|class|enum|protocol|actor|typealias)\s+\w+')
undocumented = []
for target in ("BPF", "BPFObject"):
    for root, _, files in os.walk(f"Sources/{target}"):
        for name in sorted(files):
            if not name.endswith(".swift"):
                continue
            path = os.path.join(root, name)
            lines = open(path, encoding="utf-8").read().split("\n")
            for index, line in enumerate(lines):
                if not declaration.match(line):
                    continue
                previous = index - 1
                while previous >= 0 and lines[previous].strip().startswith("@"):
                    previous -= 1
                if previous < 0 or not lines[previous].strip().startswith("///"):
                    undocumented.append(f"{path}:{index + 1}: {line.strip()}")
if undocumented:
    print("public types without a /// doc comment:", *undocumented, sep="\n")
    sys.exit(1)
print("every public type of BPF and BPFObject has a doc comment")
PY

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift package generate-documentation --target BPF --target BPFObject --target BPFTrace \
    --warnings-as-errors >"$log" 2>&1 || status=$?
# Only DocC's own diagnostics count here (compiler warnings of the build are not the docs').
if [ "$status" -ne 0 ] || grep -E "^(warning|error): |\.(md|docc).*(warning|error):" "$log" >/dev/null; then
    grep -E "warning|error" "$log" | grep -v "^\S*\.swift:[0-9]*:[0-9]*: warning" | head -50
    echo "scripts/docs.sh: the documentation build failed or has DocC warnings (exit $status): see the messages above" >&2
    exit 1
fi
ls -d .build/plugins/Swift-DocC/outputs/*.doccarchive
echo "documentation built without warnings"
