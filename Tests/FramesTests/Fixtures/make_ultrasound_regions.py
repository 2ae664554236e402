#!/usr/bin/python3
"""The Sequence of Ultrasound Regions of every ultrasound file of the sample
corpora, as pydicom reads it: the independent reference of the frame
preparation tests (Tests/FramesTests/FramePreparationTests.swift).

    Tests/FramesTests/Fixtures/make_ultrasound_regions.py > ultrasound_regions.json

Run from the repository after samples/fetch.sh. For each file (path relative
to samples/data, sorted) it writes the SHA-256, rows, columns, frames, every
region item (spatial format, data type, corners) and the region the
preparation must keep: the largest 2D tissue region (format 1, data type 1),
cut to the frame where it reaches past an edge, or null. Needs Debian's python3-pydicom.
"""
import hashlib
import json
import os
import sys

import pydicom

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "samples", "data")


def regions(dataset):
    out = []
    for item in dataset.get("SequenceOfUltrasoundRegions", []):
        out.append({
            "spatial_format": int(item.RegionSpatialFormat),
            "data_type": int(item.get("RegionDataType", 0)),
            "x0": int(item.RegionLocationMinX0), "y0": int(item.RegionLocationMinY0),
            "x1": int(item.RegionLocationMaxX1), "y1": int(item.RegionLocationMaxY1),
        })
    return out


def tissue_region(items, rows, columns):
    """The largest 2D tissue region, cut to the frame when it reaches past an edge."""
    on_frame = []
    for r in items:
        if r["spatial_format"] != 1 or r["data_type"] != 1 or r["x0"] > r["x1"] or r["y0"] > r["y1"]:
            continue
        x0, y0 = max(r["x0"], 0), max(r["y0"], 0)
        x1, y1 = min(r["x1"], columns - 1), min(r["y1"], rows - 1)
        if x0 <= x1 and y0 <= y1:
            on_frame.append([x0, y0, x1, y1])
    if not on_frame:
        return None
    return max(on_frame, key=lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1))


def main():
    entries = []
    for folder, _, names in sorted(os.walk(ROOT)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            try:
                dataset = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:
                continue
            if dataset.get("Modality") != "US" or "Rows" not in dataset:
                continue
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            items = regions(dataset)
            rows, columns = int(dataset.Rows), int(dataset.Columns)
            entries.append({
                "file": os.path.relpath(path, ROOT), "sha256": digest,
                "rows": rows, "columns": columns, "frames": int(dataset.get("NumberOfFrames", 1) or 1),
                "regions": items, "tissue_region": tissue_region(items, rows, columns),
            })
    entries.sort(key=lambda entry: entry["file"])
    json.dump(entries, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
