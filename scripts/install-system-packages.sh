#!/usr/bin/env bash
# Installs the Debian packages medsynth builds and tests with, when missing.
#   libdcmtk-dev     DICOM parsing, decoding (JPEG, JPEG-LS, RLE) and writing; brings libssl-dev
#   libopenjp2-7-dev OpenJPEG, for the bridge's JPEG 2000 decoder (DCMTK 3.6.7 has none)
#   libopenblas-dev  matrix work of the neural-network engine
#   libdnnl-dev      oneDNN: the engine's convolutions (docs/performance.md)
#   libpng-dev       PNG output
#   libsqlite3-dev   the catalog database (through GRDB)
#   libhdf5-dev      Keras' HDF5 weight files of the transfer-learning backbones
#   dcmtk, dicom3tools  dcmdump and dciodvfy, to check exported files; storescp
#                    and echoscu, the peers of the network tests
#   orthanc          a real PACS, the network tests' other peer (started by the tests)
#   curl             the network tests' client of Orthanc's REST API
#   python3-pydicom  a second, independent DICOM reader for the export tests
#   python3-numpy    with pydicom: samples/simulate_bmode.py and samples/simulate_xa.py,
#                    the simulated ultrasound and aortography sets
#   clang-format     the C and C++ formatter (.clang-format), checked by scripts/test.sh
set -euo pipefail

packages=(libdcmtk-dev libopenjp2-7-dev libopenblas-dev libdnnl-dev libpng-dev libsqlite3-dev libhdf5-dev dcmtk dicom3tools orthanc curl python3-pydicom python3-numpy clang-format)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: all present"
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "system packages: need root or sudo to install ${missing[*]}" >&2; exit 2; }
  sudo="sudo"
fi
echo "system packages: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts Orthanc as a service on install (a DICOM port open on every
# interface); the tests start their own on loopback, so the service is stopped
# and disabled again where this script installed it.
if [[ " ${missing[*]} " == *" orthanc "* ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  $sudo systemctl disable --now orthanc >/dev/null 2>&1 || true
fi
