#!/usr/bin/env bash
# The README's test command: installs the test oracles, builds, and runs every test.
# Kernel tests need root; run this as root so they run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build --no-parallel "$@"
# Examples/ is its own package depending on this one by path, as a user's would; its tests run
# every example against a workload. Skipped when arguments select tests of the main package.
if [ "$#" -eq 0 ]; then
    swift build --package-path Examples --build-tests
    swift test --package-path Examples --skip-build --no-parallel
fi
