#!/usr/bin/env bash
# Builds the libFuzzer harness over the bridge's parse-and-decode entry point
# (Tests/Fuzz/dicom_fuzzer.cpp) with AddressSanitizer and runs it on seeds made
# from the sample corpus.
#
#   bash scripts/fuzz.sh [SECONDS]      fuzz for SECONDS (default 3600)
#   bash scripts/fuzz.sh FILE...        run the harness once on each FILE (a crash to reproduce)
#
# Crashing inputs land in .build/fuzz/artifacts/; the grown corpus in
# .build/fuzz/corpus/. DCMTK itself is Debian's build (not instrumented):
# ASan checks the bridge's and the pre-scan's own memory accesses, and every
# crash, abort or leak anywhere in the process ends the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=3600
if [ $# -gt 0 ] && [ -f "$1" ]; then replay=1; else replay=0; seconds="${1:-3600}"; fi
out=.build/fuzz
mkdir -p "$out/corpus" "$out/artifacts" "$out/seeds"
clang=${CLANGXX:-clang++}
# The libraries of Package.swift's dcmtkLibraries: the harness links the whole bridge.
dcmtk_libs="-ldcmimage -ldcmimgle -ldcmjpeg -lijg8 -lijg12 -lijg16 -ldcmjpls -ldcmtkcharls -ldcmnet -ldcmtls -ldcmdata"
dcmtk_libs="$dcmtk_libs -loflog -lofstd -lopenjp2 -lssl -lcrypto -lz"
bridge=(Sources/CDCMTKBridge/*.cpp Sources/CDCMTKBridge/*.h Sources/CDCMTKBridge/include/*.h)
stale=0
[ -x "$out/dicom_fuzzer" ] || stale=1
for source in Tests/Fuzz/dicom_fuzzer.cpp "${bridge[@]}"; do
    if [ "$source" -nt "$out/dicom_fuzzer" ]; then stale=1; fi
done
if [ "$stale" = 1 ]; then
    "$clang" -std=c++17 -g -O1 -fsanitize=fuzzer,address -fno-omit-frame-pointer \
        -ISources/CDCMTKBridge/include \
        Tests/Fuzz/dicom_fuzzer.cpp Sources/CDCMTKBridge/*.cpp \
        $dcmtk_libs -o "$out/dicom_fuzzer"
fi
if [ "$replay" = 1 ]; then
    exec "$out/dicom_fuzzer" -rss_limit_mb=4096 "$@"
fi
# Seeds: every sample file up to 64 KiB, plus the first 64 KiB of larger ones
# (their headers and first fragments), so that each transfer syntax is there.
if [ -z "$(ls -A "$out/seeds")" ]; then
    [ -d samples/data ] || bash samples/fetch.sh
    python3 - "$out/seeds" <<'PY'
import hashlib, pathlib, sys
out = pathlib.Path(sys.argv[1])
for path in sorted(pathlib.Path("samples/data").rglob("*")):
    if not path.is_file():
        continue
    data = path.read_bytes()[: 64 * 1024]
    if len(data) > 132 and (data[128:132] == b"DICM" or data[:2] in (b"\x08\x00", b"\x02\x00")):
        (out / hashlib.sha256(data).hexdigest()[:16]).write_bytes(data)
PY
fi
export FUZZ_SCRATCH="${FUZZ_SCRATCH:-/dev/shm}"
exec "$out/dicom_fuzzer" "$out/corpus" "$out/seeds" -max_total_time="$seconds" -max_len=65536 \
    -timeout=30 -rss_limit_mb=4096 -artifact_prefix="$out/artifacts/" -print_final_stats=1
