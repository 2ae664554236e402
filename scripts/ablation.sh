#!/usr/bin/env bash
# The ablation of docs/training.md, "Limited-data options, measured": each
# option of `train` alone, and together, trained for the same wall time on one
# catalog, then evaluated (256 frames, seed 1).
#
#   scripts/ablation.sh CATALOG OUT_DIR SECONDS VALIDATION_FRACTION [CONFIG...]
#
# Equal wall time, reproducibly: each configuration's images/s is measured
# first (a short run, one engine thread, nothing else running), and its run is
# then that many seconds' worth of steps, so the same arguments give the same
# models on a busier machine. Runs go two at a time, one thread each (2 cores).
# OUT_DIR gets rate-<config>.txt, train-<config>.json, evaluate-<config>.json
# and summary.tsv. Needs the release build (swift build -c release).
set -euo pipefail
catalog="$1" out="$2" seconds="$3" fraction="$4"
shift 4
medsynth="$(cd "$(dirname "$0")/.." && swift build -c release --show-bin-path)/medsynth"
mkdir -p "$out"

declare -A options=(
  [default]=""
  [ada]="--augment ada"
  [ema]="--ema-half-life 10000"
  [lecam]="--lecam 0.01"
  [mbstd]="--minibatch-std"
  [nearest]="--upsampling nearest"
  [all]="--augment ada --ema-half-life 10000 --lecam 0.01 --minibatch-std --upsampling nearest"
)
configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(default ada ema lecam mbstd nearest all)
tag="$(basename "$out")"

# images/s of one configuration: the last progress line of a 24-step run.
measure() {
  local config="$1" name="rate-$tag-$1-$$"
  # shellcheck disable=SC2086
  "$medsynth" train --catalog "$catalog" --modality US --steps 24 --threads 1 --no-evaluate \
    --validation-fraction "$fraction" --grid-every 1000 --name "$name" ${options[$config]} \
    >/dev/null 2>"$out/rate-$config.log"
  grep -o '[0-9.]* img/s' "$out/rate-$config.log" | tail -1 | cut -d' ' -f1 >"$out/rate-$config.txt"
}

run() {
  local config="$1"
  local rate steps
  rate="$(cat "$out/rate-$config.txt")"
  steps="$(python3 -c "print(max(1, int($seconds * $rate / 32)))")"
  echo "$config: $rate img/s -> $steps steps" >&2
  # shellcheck disable=SC2086
  "$medsynth" train --catalog "$catalog" --modality US --steps "$steps" --threads 1 --no-evaluate \
    --validation-fraction "$fraction" --name "$tag-$config" ${options[$config]} --json \
    >"$out/train-$config.json" 2>"$out/train-$config.log"
  "$medsynth" evaluate --catalog "$catalog" --model "$tag-$config" --threads 1 --json \
    >"$out/evaluate-$config.json" 2>"$out/evaluate-$config.log"
}

for config in "${configs[@]}"; do [[ -s "$out/rate-$config.txt" ]] || measure "$config"; done
for ((i = 0; i < ${#configs[@]}; i += 2)); do
  run "${configs[i]}" &
  if ((i + 1 < ${#configs[@]})); then run "${configs[i + 1]}" & fi
  wait
done

python3 - "$out" "${configs[@]}" <<'EOF'
import json, sys
out, configs = sys.argv[1], sys.argv[2:]
def interval(v, i, digits):
    return "n/a" if v is None else f"{v:.{digits}f} ({i[0]:.{digits}f}-{i[1]:.{digits}f})"
rows = ["config\tsteps\tc2st\tdensity\tcoverage\tcopies\tms_ssim_gen\tms_ssim_real\thistogram\tspectrum"]
for config in configs:
    e = json.load(open(f"{out}/evaluate-{config}.json"))
    t = json.load(open(f"{out}/train-{config}.json"))
    rows.append("\t".join([
        config, str(t["step"]),
        interval(e["c2st_accuracy"], e["c2st_accuracy_interval"], 2),
        interval(e["density"], e["density_interval"], 2),
        interval(e["coverage"], e["coverage_interval"], 2),
        f'{e["copies"]} of {e["generated_frames"]}',
        f'{e["ms_ssim_generated"]:.2f}', f'{e["ms_ssim_real"]:.2f}',
        interval(e["histogram_distance"], e["histogram_distance_interval"], 4),
        interval(e["spectrum_distance"], e["spectrum_distance_interval"], 3),
    ]))
open(f"{out}/summary.tsv", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
EOF
