#!/usr/bin/env bash
# The README's test command: installs the test oracles, builds, and runs every test.
# Kernel tests need root; run this as root so they run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build --no-parallel "$@"
