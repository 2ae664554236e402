#!/usr/bin/env bash
# The main job, end to end on the embedded default: system packages, sample
# DICOM corpora, a release build, an import of the samples into the catalog
# (./catalog, or $MEDSYNTH_CATALOG), its statistics, and a short ultrasound
# model trained on the sample cines (DEMO_TRAIN_EPOCHS, default 30: about 7
# minutes on 2 cores, 4 before issue 38's default, whose step costs 1.7 times
# issue 17's; docs/training.md shows a longer run), its evaluation,
# and synthetic DICOM exported from it, one file checked with dciodvfy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-system-packages.sh
bash samples/fetch.sh
echo "build: swift build -c release"
swift build -c release
medsynth="$(swift build -c release --show-bin-path)/medsynth"
[[ -x "$medsynth" ]] || { echo "demo: the build did not produce $medsynth" >&2; exit 2; }

catalog="${MEDSYNTH_CATALOG:-catalog}"
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
# A key of the JSON object a command printed with --json (docs/cli.md).
json_key() { /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
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
# The paper's modality: simulated aortography cines of a TAVI-like stent with its
# keypoints in COCO JSON (samples/simulate_xa.py), imported together; one frame
# drawn as training prepares it, its keypoints on the frame and on the training image.
/usr/bin/python3 samples/simulate_xa.py "$results/xa" --cines 6 --frames 8 --seed 1
echo "import: $medsynth import --catalog $catalog <simulated XA cines and annotations.json>"
"$medsynth" import --catalog "$catalog" "$results/xa/xa" >/dev/null
"$medsynth" query annotations --catalog "$catalog" --modality XA --json >"$results/xa-annotations.json"
xa_uid="$(/usr/bin/python3 - "$results/xa-annotations.json" <<'PYTHON'
import json, sys
rows = json.load(open(sys.argv[1]))
print(f"{len(rows)} annotated XA frames; the first: {rows[0]['label_set']} keypoints {rows[0]['keypoints']}", file=sys.stderr)
print(rows[0]["sop_instance_uid"])
PYTHON
)"
labelled="$catalog/labelled-xa-frame.png"
echo "show: $medsynth show --catalog $catalog $xa_uid --frame 1 --prepared --overlay --png $labelled"
"$medsynth" show --catalog "$catalog" "$xa_uid" --frame 1 --prepared --overlay --png "$labelled" 2>/dev/null
echo
"$medsynth" stats --catalog "$catalog"
echo
epochs="${DEMO_TRAIN_EPOCHS:-30}"
# The evaluation train ends with is left to 'evaluate' below, which also writes the report page.
echo "train: $medsynth train --catalog $catalog --modality US --epochs $epochs --grid-every 10 --no-evaluate --json"
"$medsynth" train --catalog "$catalog" --modality US --epochs "$epochs" --grid-every 10 --no-evaluate --json \
  >"$results/train.json"
model_name="$(json_key "$results/train.json" name)"
model_folder="$(json_key "$results/train.json" folder)"
echo
"$medsynth" models --catalog "$catalog"
echo
# One cine frame as training saw it: the kept tissue region outlined, the
# filled burned-in annotations in magenta, and the training image beside it.
"$medsynth" query instances --catalog "$catalog" --modality US --synthetic no --json >"$results/us.json"
cine_uid="$(/usr/bin/python3 -c 'import json, sys; print(next(i["sop_instance_uid"] for i in json.load(open(sys.argv[1])) if i["frames"] > 1 and i["decodable"]))' "$results/us.json")"
prepared="$model_folder/samples/prepared-frame.png"
echo "show: $medsynth show --catalog $catalog $cine_uid --prepared --png $prepared"
"$medsynth" show --catalog "$catalog" "$cine_uid" --prepared --png "$prepared"
echo
echo "evaluate: $medsynth evaluate --catalog $catalog --model $model_name --report $model_folder/evaluation"
"$medsynth" evaluate --catalog "$catalog" --model "$model_name" --report "$model_folder/evaluation"
echo
out="synthetic/demo-$(date -u +%Y%m%d-%H%M%S)"
echo "synthesize: $medsynth synthesize --catalog $catalog --model <the model> --count 32 --frames-per-file 8 --seed 1 --out $out"
# Exit status 62: the privacy filter withheld so many copies of training frames
# that fewer than 32 were written within the draw limit (named on stderr).
status=0
"$medsynth" synthesize --catalog "$catalog" --model "$model_name" --count 32 --frames-per-file 8 --seed 1 --out "$out" --json \
  >"$results/synthesize.json" || status=$?
if [[ $status -ne 0 && $status -ne 62 ]]; then
  echo "demo: synthesize failed with status $status" >&2
  exit "$status"
fi
out="$(json_key "$results/synthesize.json" folder)"
first_file="$(/usr/bin/python3 -c 'import json, sys; print((json.load(open(sys.argv[1]))["files"] or [""])[0])' "$results/synthesize.json")"
if [[ -z "$first_file" ]]; then
  echo "demo: the privacy filter withheld every frame (copies of training frames); train longer" >&2
  exit 1
fi
echo
echo "validate: dciodvfy $first_file"
validation="$(dciodvfy "$first_file" 2>&1 || true)"
echo "$validation"
# dciodvfy's 2022 dictionary predates Synthetic Data (0008,001C) and flags it;
# any other error fails the demo (docs/provenance.md).
if grep '^Error' <<<"$validation" | grep -vq '(0x0008,0x001c)'; then
  echo "demo: dciodvfy reports errors in $first_file" >&2
  exit 1
fi
echo "dciodvfy: no errors apart from the unknown Synthetic Data tag (0008,001C)"
echo
"$medsynth" query instances --catalog "$catalog" --synthetic yes --modality US --json >"$results/synthetic.json"
/usr/bin/python3 - "$results/synthetic.json" <<'PYTHON'
import json, sys
instances = json.load(open(sys.argv[1]))
print(f"{len(instances)} synthetic US instances in the catalog, for example:")
for instance in instances[:4]:
    print(f"  {instance['sop_instance_uid']}  {instance['frames']} frames  model {instance['model']}  "
          f"seed {instance['seed']}  latents {instance['latent_indices']}")
PYTHON
echo
echo "Catalog:    $(cd "$catalog" && pwd) (database catalog.sqlite, copies under storage/)"
echo "Model:      $model_folder (model.json, generator.safetensors, losses.png, samples/, evaluation/index.html)"
echo "Prepared:   $prepared (a training frame: its tissue region, its masked annotations)"
echo "Labelled:   $(cd "$catalog" && pwd)/labelled-xa-frame.png (a simulated aortography frame with its stent keypoints, as imported and as prepared)"
echo "Synthetic:  $out (DICOM, latents.npy, synthesis.json)"
echo "Executable: $medsynth"
echo "Next:       $medsynth synthesize --catalog $catalog --model $model_name --count 100 --format png"
