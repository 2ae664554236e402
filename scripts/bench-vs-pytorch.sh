#!/usr/bin/env bash
# Training steps against PyTorch (docs/performance.md "Training steps (the
# engine)"): `medsynth bench --scenario S` and its PyTorch twin
# scripts/bench_pytorch.py (same networks, step, batch and warm-up), run
# alternately so that both see the same machine, both on 2 threads (the
# threads of the documented figures). Prints images/s of both, their ratio and
# both peak resident memories (MB = 10^6 bytes), one TSV row per pair.
#
#   scripts/bench-vs-pytorch.sh [ROUNDS [STEPS]]
#
# Defaults: 3 rounds per scenario, 20 measured compact steps. A paper step
# takes about 15 times as long as a compact one: paper runs PAPER_STEPS
# measured steps (default 4). PYTHON is an interpreter with torch (default
# /tmp/torchvenv/bin/python). Needs a release build (swift build -c release
# --product medsynth).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
compact_steps=${2:-20}
paper_steps=${PAPER_STEPS:-4}
python=${PYTHON:-/tmp/torchvenv/bin/python}
threads=2
medsynth=$PWD/.build/release/medsynth
[[ -x $medsynth ]] || { echo "bench-vs-pytorch: build first: swift build -c release" >&2; exit 2; }
"$python" -c 'import torch' 2>/dev/null || { echo "bench-vs-pytorch: no torch in $python (set PYTHON)" >&2; exit 2; }

# Reads one bench JSON object on stdin; prints its images/s and peak resident MB, tab-separated.
figures() {
    python3 -c "import json, sys; r = json.load(sys.stdin); print('%.2f\t%.0f' % (r['images_per_second'], r['peak_rss_bytes'] / 1e6))"
}

# Runs the benchmark command "$@" on $scenario for $steps steps; prints its figures.
measure() { "$@" --scenario "$scenario" --steps "$steps" --threads "$threads" --json | figures; }

printf 'round\tscenario\tmedsynth images/s\tpytorch images/s\tratio\tmedsynth peak MB\tpytorch peak MB\n'
for scenario in compact paper; do
    steps=$([[ $scenario == compact ]] && echo "$compact_steps" || echo "$paper_steps")
    for ((round = 1; round <= rounds; round++)); do
        ours=$(measure "$medsynth" bench)
        theirs=$(measure "$python" scripts/bench_pytorch.py)
        read -r ours_rate ours_mb <<<"$ours"
        read -r theirs_rate theirs_mb <<<"$theirs"
        printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scenario" "$ours_rate" "$theirs_rate" \
            "$(python3 -c "print(f'{$ours_rate / $theirs_rate:.2f}')")" "$ours_mb" "$theirs_mb"
    done
done
