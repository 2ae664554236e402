#!/usr/bin/env bash
# Issue 39's measurement (docs/training.md, "Do the labelled frames help?"):
# on the simulated aortography set (samples/simulate_xa.py, 40 cines of 16
# frames, seed 2026, imported with their keypoints), for each N, a keypoint
# model (train --labels keypoints, today's defaults otherwise) trained on N
# labelled cines only, the other 40 - N held out by series and never seen by
# the generator, for LABELLED_STEPS steps (default 2400: about 30 minutes on 2
# cores, docs/training.md), then `evaluate --utility` on those N
# cines against the held-out ones: real, real with classic augmentation, real
# with the model's frames and their own labels, with the same frames
# pseudo-labelled, and either alone, each task model trained with the same
# steps and batch. OUT (default ./labelled-utility) gets per N train-N.json,
# utility-N.json, utility-N.txt (the tables) and /usr/bin/time -v's account of
# each command in *.time.
#
#   scripts/labelled-utility.sh [OUT] [N...]      (default N: 5 10)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="$(mkdir -p "${1:-labelled-utility}" && cd "${1:-labelled-utility}" && pwd)"
shift $(($# > 0 ? 1 : 0))
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(5 10)
steps="${LABELLED_STEPS:-2400}"
cines=40

echo "build: swift build -c release"
swift build -c release
medsynth="$(swift build -c release --show-bin-path)/medsynth"
catalog="$out/catalog"
if [[ ! -d "$out/data/xa" ]]; then
  /usr/bin/python3 samples/simulate_xa.py "$out/data" --cines "$cines" --frames 16 --seed 2026
  "$medsynth" import --catalog "$catalog" "$out/data/xa"
fi

for n in "${counts[@]}"; do
  model="xa-keypoints-$n"
  # N of the 40 cines train: the held-out share is (40 - N) / 40, whole series.
  fraction="$(/usr/bin/python3 -c "print(($cines - $n) / $cines)")"
  if ! "$medsynth" models --catalog "$catalog" --json | grep -q "\"name\": \"$model\""; then
    echo "train $model: $n labelled cines, $steps steps"
    /usr/bin/time -v -o "$out/train-$n.time" \
      "$medsynth" train --catalog "$catalog" --modality XA --name "$model" --labels keypoints --steps "$steps" \
      --validation-fraction "$fraction" --region none --annotations keep --no-evaluate --json >"$out/train-$n.json"
  fi
  echo "utility of $model"
  /usr/bin/time -v -o "$out/utility-$n.time" \
    "$medsynth" evaluate --catalog "$catalog" --model "$model" --utility --json >"$out/utility-$n.json"
  grep -E "Elapsed \(wall|Maximum resident" "$out/train-$n.time" "$out/utility-$n.time" || true
  /usr/bin/python3 scripts/utility_table.py "$out/utility-$n.json" "$out/train-$n.json" >"$out/utility-$n.txt"
  cat "$out/utility-$n.txt"
done
echo "labelled utility: results in $out"
