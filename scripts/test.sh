#!/usr/bin/env bash
# The whole test suite: system packages, sample corpora (from the cache when
# present, so no network is needed), a debug build, then swift test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-system-packages.sh
bash samples/fetch.sh
swift build --build-tests
swift test --skip-build
