#!/usr/bin/env python3
"""Writes reference.json: what an independent reader (pydicom + numpy) sees in
the sample corpus, for the DICOM tests to compare medsynth's DCMTK bridge with.

For every sample file pydicom reads (with a SOP Instance UID): the metadata the
catalog records. For every file whose pixels pydicom decodes (JPEG 2000 through
pylibjpeg-openjpeg, an OpenJPEG build of its own): frames 0, the middle one and
the last, converted to 8-bit grayscale by the rules documented
in ms_dicom_frames.h and docs/architecture.md (overlays not drawn), summarised as the mean and an 8x8
grid of pixel samples.

    pip install pydicom numpy pillow pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle
    python3 Tests/DICOMTests/Fixtures/make_reference.py samples/data > Tests/DICOMTests/Fixtures/reference.json

Generated file: do not edit reference.json by hand.
"""
import json
import pathlib
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

warnings.simplefilter("ignore")


def text(ds, keyword):
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def windowed(values, center, width):
    """PS3.3 C.11.2.1.2.1, the linear VOI function, to 0..255."""
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    out = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255
    out = np.where(values <= low, 0, np.where(values > high, 255, out))
    return out


def palette_rgb(ds, frame):
    """PALETTE COLOR to RGB in 0..255, reading the lookup tables in the file's
    byte order (pydicom's apply_color_lut misreads big-endian tables)."""
    big_endian = str(ds.file_meta.TransferSyntaxUID) == "1.2.840.10008.1.2.2"
    channels = []
    for colour in ("Red", "Green", "Blue"):
        entries, first, bits = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
        entries = entries or 65536
        data = ds[f"{colour}PaletteColorLookupTableData"].value
        table = np.frombuffer(data, dtype=(">u2" if big_endian else "<u2") if bits == 16 else "u1")
        index = np.clip(frame.astype(np.int64) - first, 0, entries - 1)
        values = table[index].astype(np.float64)
        # DCMTK keeps the high byte of 16-bit entries.
        channels.append(np.floor(values / 256.0) if bits == 16 else values)
    return np.stack(channels, axis=-1)


def gray8(ds, frame):
    """The documented training conversion of one frame to 8-bit grayscale.
    DCMTK truncates (rounds down) when it maps values to 8 bits; the luma of
    colour images is rounded to nearest."""
    photometric = ds.PhotometricInterpretation
    if photometric == "PALETTE COLOR" or ds.SamplesPerPixel == 3:
        if photometric == "PALETTE COLOR":
            rgb = palette_rgb(ds, frame)
        else:
            # pydicom already converted YBR_FULL and YBR_FULL_422 to RGB.
            rgb = frame.astype(np.float64)
            if ds.BitsStored > 8:
                rgb = np.floor(rgb / (2 ** ds.BitsStored - 1) * 255)
        return np.floor(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2] + 0.5)
    values = apply_modality_lut(frame, ds).astype(np.float64)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        center = float(np.atleast_1d(ds.WindowCenter)[0])
        width = float(np.atleast_1d(ds.WindowWidth)[0])
        out = windowed(values, center, width)
    elif ds.BitsStored == 8:
        out = values
    else:  # min-max window over the frame (1-bit masks become 0/255)
        low, high = values.min(), values.max()
        out = (values - low) / max(high - low, 1) * 255
    out = np.clip(out, 0, 255)
    if photometric == "MONOCHROME1":
        out = 255 - out
    return np.floor(out)


def summary(image):
    rows, columns = image.shape
    samples = [
        int(image[(2 * i + 1) * rows // 16, (2 * j + 1) * columns // 16]) for i in range(8) for j in range(8)
    ]
    return {"mean": round(float(image.mean()), 4), "samples": samples}


def main(root):
    root = pathlib.Path(root)
    entries = []
    for path in sorted(root.rglob("*.dcm")):
        try:
            ds = pydicom.dcmread(path)
        except Exception:
            continue
        if "SOPInstanceUID" not in ds:
            continue
        syntax = str(ds.file_meta.TransferSyntaxUID)
        entry = {
            "file": str(path.relative_to(root)),
            "sop_instance_uid": text(ds, "SOPInstanceUID"),
            "study_instance_uid": text(ds, "StudyInstanceUID"),
            "series_instance_uid": text(ds, "SeriesInstanceUID"),
            "patient_id": text(ds, "PatientID") or "",
            "modality": text(ds, "Modality"),
            "transfer_syntax_uid": syntax,
            "rows": int(ds.get("Rows", 0)),
            "columns": int(ds.get("Columns", 0)),
            "frames": int(ds.get("NumberOfFrames", 1) or 1),
            "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
            "photometric_interpretation": text(ds, "PhotometricInterpretation"),
            "decodable": True,
            "frame_checks": [],
        }
        try:
            pixels = ds.pixel_array
        except Exception as error:  # pydicom cannot decode it either
            entry["decodable"] = None
            entry["pydicom_error"] = str(error)
            entries.append(entry)
            continue
        frames = entry["frames"]
        if frames == 1:
            pixels = pixels[np.newaxis]
        for index in sorted({0, frames // 2, frames - 1}):
            try:
                check = summary(gray8(ds, pixels[index]))
            except Exception as error:
                entry["decodable"] = None
                entry["pydicom_error"] = str(error)
                break
            check["frame"] = index
            entry["frame_checks"].append(check)
        entries.append(entry)
    json.dump({"generated_by": "Tests/DICOMTests/Fixtures/make_reference.py", "pydicom": pydicom.__version__,
               "files": entries}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
