#!/usr/bin/env bash
# The whole test suite: system packages, sample corpora (from the cache when
# present, so no network is needed), the source checks (the formatters'
# configurations in .swift-format and .clang-format, function lengths,
# enum-owned states, the README's layout, the bridge's public functions), a
# debug build, then swift test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-system-packages.sh
bash samples/fetch.sh
echo "checks: swift format lint --strict, clang-format --dry-run --Werror, scripts/check-sources.py"
swift format lint --strict --recursive --parallel Package.swift Sources Tests
find Sources Tests/Fuzz \( -name '*.c' -o -name '*.cpp' -o -name '*.h' \) -print0 | xargs -0 clang-format --dry-run --Werror
/usr/bin/python3 scripts/check-sources.py
swift build --build-tests
swift test --skip-build
