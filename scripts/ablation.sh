#!/usr/bin/env bash
# The ablation of docs/experiments/limited-data.md: each
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
# and summary.tsv (of every CONFIG given, trained now or before): the
# two-sample accuracy against the validation series and against the training
# frames, each with its real-against-real calibration, then the other figures
# against the validation frames. Needs the
# release build (swift build -c release).
#
# A CONFIG is one name of the table below, or several joined by "+"; "lrX"
# sets the learning rate to X, "batchN" the batch size, "rampN" ADA's ramp in
# images, "targetX" ADA's target, "lecamX" LeCam's weight, "emaN" the weight
# average's half-life in images, "seedN" the seed and "splitN" the seed of
# the validation split alone (--split-seed; by default the split follows the
# seed), so that "ema+mbstd+lr1e-4+batch16+seed2+split1" is the weight average
# and the minibatch standard deviation at learning rate 1e-4 and batch 16, from
# seed 2, holding out the frames seed 1 holds out; "rpgan" is the relativistic
# pairing loss (--loss relativistic), "nonsat" the paper's non-saturating loss
# (--loss non-saturating), "gpX" the first-order R1 and R2
# stand-in of weight X (--gradient-penalty X), "reconX" D's reconstruction
# of weight X (--reconstruction X), "residual" the residual preset, "projected"
# the projected discriminator (random MobileNetV2, calibrated), "pretrained" its
# backbone's weights from the file $BACKBONE_WEIGHTS names (--backbone-weights;
# samples/fetch-backbone.sh gives ImageNet's), "augX" the augmentation's
# transforms X (--augment-transforms X, such as "augtranslation" or
# "augtranslation,cutout"), "limitX" the copy check's limit in per cent
# (--copy-limit X; "limit0": the model stays at the last step before its first
# copy). The ramp, the target and the seeds do not change what a step costs, nor
# do LeCam's weight and the half-life on "default" (which has both): such a
# configuration reuses the rate measured without them, as does a choice of
# transforms (the same loops run) or of backbone weights.
set -euo pipefail
catalog="$1" out="$2" seconds="$3" fraction="$4"
shift 4
# Every configuration but "default" starts from "plain", the paper's training
# and medsynth's default until issue 17 (DiffAugment, transposed convolutions, no
# weight average, no LeCam, no minibatch std, the non-saturating loss without a
# gradient penalty), and adds its options to it, a later option replacing an
# earlier one. "default" is what `train` does without options; issue 17's
# default, which issue 38 replaced, is "default+nonsat+gp0+target0.2". "ada" and "all" keep the ADA settings of the first passes (the paper's
# target 0.6, a ramp of 20,000 images). "copycheck" is the copy check of the
# default (every 50 steps, limit 1 %), which plain has not.
plain="--augment diffaugment --ema-half-life 0 --lecam 0 --no-minibatch-std --upsampling transposed --copy-check-every 0 --loss non-saturating --gradient-penalty 0"
# $MEDSYNTH, when set, is the binary to run (a copy of this script elsewhere has no package beside it).
medsynth="${MEDSYNTH:-$(cd "$(dirname "$0")/.." && swift build -c release --show-bin-path)/medsynth}"
mkdir -p "$out"

declare -A options=(
  [default]=""
  [plain]=""
  [none]="--augment none"
  [ada]="--augment ada --ada-target 0.6 --ada-ramp 20000"
  [ema]="--ema-half-life 10000"
  [lecam]="--lecam 0.01"
  [mbstd]="--minibatch-std"
  [nearest]="--upsampling nearest"
  [noise]="--noise-inputs"
  [copycheck]="--copy-check-every 50 --copy-limit 1"
  [rpgan]="--loss relativistic"
  [nonsat]="--loss non-saturating"
  [residual]="--preset residual"
  [projected]="--discriminator projected"
  [all]="--augment ada --ada-target 0.6 --ada-ramp 20000 --ema-half-life 10000 --lecam 0.01 --minibatch-std --upsampling nearest"
)
# The options of a configuration, and its batch size (the steps a wall time buys).
options_of() {
  local part
  [[ "${1%%+*}" == default ]] || printf -- '%s ' "$plain"
  for part in ${1//+/ }; do
    case "$part" in
      lr*) printf -- '--lr %s ' "${part#lr}" ;;
      batch*) printf -- '--batch %s ' "${part#batch}" ;;
      ramp*) printf -- '--ada-ramp %s ' "${part#ramp}" ;;
      target*) printf -- '--ada-target %s ' "${part#target}" ;;
      lecam[0-9]*) printf -- '--lecam %s ' "${part#lecam}" ;;
      ema[0-9]*) printf -- '--ema-half-life %s ' "${part#ema}" ;;
      seed*) printf -- '--seed %s ' "${part#seed}" ;;
      split*) printf -- '--split-seed %s ' "${part#split}" ;;
      gp*) printf -- '--gradient-penalty %s ' "${part#gp}" ;;
      recon*) printf -- '--reconstruction %s ' "${part#recon}" ;;
      aug*) printf -- '--augment-transforms %s ' "${part#aug}" ;;
      limit*) printf -- '--copy-limit %s ' "${part#limit}" ;;
      pretrained)
        # train refuses backbone weights without a backbone, and a refusal inside a run would only show in the summary.
        [[ "+$1+" == *+projected+* ]] || { echo "ablation: $1: pretrained goes with projected" >&2; exit 2; }
        printf -- '--backbone-weights %s ' "${BACKBONE_WEIGHTS:?pretrained: set BACKBONE_WEIGHTS to a weight file (samples/fetch-backbone.sh)}"
        ;;
      *)
        [[ -v "options[$part]" ]] || { echo "ablation: unknown configuration part: $part" >&2; exit 2; }
        printf -- '%s ' "${options[$part]}"
        ;;
    esac
  done
}
# The configuration whose measured rate a configuration's run uses: itself
# without the parts that do not change a step's cost.
rate_of() {
  local part key=""
  for part in ${1//+/ }; do
    case "$part" in
      seed* | split* | ramp* | target* | aug* | limit* | pretrained) ;;
      lecam[0-9]* | ema[0-9]*) [[ "${1%%+*}" == default ]] || key="${key:+$key+}$part" ;;
      *) key="${key:+$key+}$part" ;;
    esac
  done
  # Without a base part, the configuration is plain's.
  echo "${key:-plain}"
}
batch_of() {
  local part batch=32
  for part in ${1//+/ }; do [[ "$part" == batch* ]] && batch="${part#batch}"; done
  echo "$batch"
}

configs=("$@")
[[ ${#configs[@]} -gt 0 ]] || configs=(default plain ada ema lecam mbstd nearest noise)
tag="$(basename "$out")"

# images/s of one configuration in a 24-step run: the figure of its last
# progress line, which counts from the end of step 1 (the first step alone has
# taken from 0.3 to 9 s: allocations, a cold page cache).
measure() {
  local config="$1" name="rate-$tag-$1-$$"
  # shellcheck disable=SC2086
  "$medsynth" train --catalog "$catalog" --modality US --steps 24 --threads 1 --no-evaluate \
    --validation-fraction "$fraction" --grid-every 1000 --name "$name" $(options_of "$config") \
    >/dev/null 2>"$out/rate-$config.log"
  grep '^train: ' "$out/rate-$config.log" | tail -1 | sed -E 's/.* ([0-9.]+) img\/s$/\1/' >"$out/rate-$config.txt"
}

# Trains and evaluates one configuration, unless an earlier invocation did:
# adding configurations to a finished OUT_DIR runs only the new ones, and
# running it again after a stop finishes what the stop cut short.
run() {
  local config="$1"
  local rate steps
  [[ -s "$out/evaluate-$config.json" ]] && return
  rate="$(cat "$out/rate-$(rate_of "$config").txt")"
  steps="$(python3 -c "print(max(1, int($seconds * $rate / $(batch_of "$config"))))")"
  echo "$config: $rate img/s -> $steps steps" >&2
  # train-<config>.json is complete only once its run ended well: a run stopped
  # by a signal also prints its JSON (outcome "stopped"), then exits 3.
  if [[ ! -s "$out/train-$config.json" ]]; then
    if "$medsynth" models --catalog "$catalog" --json | python3 -c 'import json, sys; sys.exit(all(m["name"] != sys.argv[1] for m in json.load(sys.stdin)))' "$tag-$config"; then
      # A run stopped part-way (a machine shut down, a session ended) goes on from
      # its last checkpoint: resume is byte-exact, so the model is the one an
      # unbroken run makes, and hours of the table are not lost.
      "$medsynth" train --catalog "$catalog" --resume "$tag-$config" --threads 1 --no-evaluate --json \
        >"$out/train-$config.json.partial" 2>>"$out/train-$config.log"
    else
      # shellcheck disable=SC2086
      "$medsynth" train --catalog "$catalog" --modality US --steps "$steps" --threads 1 --no-evaluate \
        --validation-fraction "$fraction" --name "$tag-$config" $(options_of "$config") --json \
        >"$out/train-$config.json.partial" 2>"$out/train-$config.log"
    fi
    mv "$out/train-$config.json.partial" "$out/train-$config.json"
  fi
  "$medsynth" evaluate --catalog "$catalog" --model "$tag-$config" --threads 1 --json \
    >"$out/evaluate-$config.json" 2>"$out/evaluate-$config.log"
}

for config in "${configs[@]}"; do options_of "$config" >/dev/null; done
for config in "${configs[@]}"; do
  key="$(rate_of "$config")"
  [[ -s "$out/rate-$key.txt" ]] || measure "$key"
done
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
rows = ["config\tsteps\tc2st\tc2st_calibration\tc2st_training\tc2st_training_calibration\tdensity\tcoverage\tcopies"
        "\tms_ssim_gen\tms_ssim_real\thistogram\tspectrum"]
for config in configs:
    e = json.load(open(f"{out}/evaluate-{config}.json"))
    t = json.load(open(f"{out}/train-{config}.json"))
    training = e["against_training"]
    rows.append("\t".join([
        config, str(t["step"]),
        interval(e["c2st_accuracy"], e["c2st_accuracy_interval"], 2),
        interval(e["c2st_calibration_accuracy"], e["c2st_calibration_interval"], 2),
        interval(training["c2st_accuracy"], training["c2st_accuracy_interval"], 2),
        interval(training["c2st_calibration_accuracy"], training["c2st_calibration_interval"], 2),
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
