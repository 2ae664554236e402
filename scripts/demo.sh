#!/usr/bin/env bash
# The main job, end to end on the embedded default: system packages, sample
# DICOM corpora, a release build, an import of the samples into the catalog
# (./catalog, or $MEDSYNTH_CATALOG), its statistics, and a short ultrasound
# model trained on the sample cines (DEMO_TRAIN_EPOCHS, default 30: about 3
# minutes on 2 cores; docs/training.md shows a longer run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-system-packages.sh
bash samples/fetch.sh
echo "build: swift build -c release"
swift build -c release
medsynth="$(swift build -c release --show-bin-path)/medsynth"
[[ -x "$medsynth" ]] || { echo "demo: the build did not produce $medsynth" >&2; exit 2; }

catalog="${MEDSYNTH_CATALOG:-catalog}"
echo "import: $medsynth import --catalog $catalog samples/data"
# Exit status 1 means some files were rejected (the corpus holds a truncated
# file on purpose); each is named above. 2 or more is fatal.
status=0
"$medsynth" import --catalog "$catalog" samples/data || status=$?
if [[ $status -ge 2 ]]; then
  echo "demo: import failed with status $status" >&2
  exit "$status"
fi
echo
"$medsynth" stats --catalog "$catalog"
echo
epochs="${DEMO_TRAIN_EPOCHS:-30}"
echo "train: $medsynth train --catalog $catalog --modality US --epochs $epochs --grid-every 10"
"$medsynth" train --catalog "$catalog" --modality US --epochs "$epochs" --grid-every 10
echo
"$medsynth" models --catalog "$catalog"
model_folder="$(cd "$catalog" && pwd)/$("$medsynth" models --catalog "$catalog" --format csv | tail -n 1 | awk -F, '{print $15}')"
echo
echo "Catalog:    $(cd "$catalog" && pwd) (database catalog.sqlite, copies under storage/)"
echo "Model:      $model_folder (model.json, generator.safetensors, losses.png, samples/)"
echo "Executable: $medsynth"
echo "Next:       $medsynth train --catalog $catalog --resume <model name> --epochs 100"
