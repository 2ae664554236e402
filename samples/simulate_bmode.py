#!/usr/bin/python3
"""Simulated B-mode ultrasound cines, written as US Multi-frame DICOM series.

A benchmark data set that no one can mistake for a patient (docs/evaluation.md):
each phantom is a random tissue slab (layers of different echogenicity,
anechoic cysts, bright inclusions, a specular wall) filled with random
scatterers. A sector probe images it: the scatterers are sampled on the
probe's polar grid, convolved with a Gaussian point-spread function (axial
and lateral, complex baseband), envelope-detected, log-compressed and
scan-converted to a sector image. Each cine follows the probe as it drifts
and tilts over the phantom, so the speckle moves with the tissue.

Every file says what it is: Patient Name SIMULATED^PHANTOM <n>, Patient ID
SIM-<seed>-<n>, Manufacturer "medsynth B-mode simulator", Image Comments and
Series Description naming the simulation, and a Sequence of Ultrasound
Regions giving the sector's bounding box. The files are not marked Synthetic
Data: they play the part of acquired studies in the benchmark (medsynth keeps
Synthetic Data YES for frames a model generated).

    samples/simulate_bmode.py OUT_DIR [--phantoms N] [--frames F] [--seed S]

The same arguments give the same pixels (UIDs derive from the seed too).
Needs Debian's python3-numpy and python3-pydicom.
"""
import argparse
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from simulated import uid

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
ROWS, COLUMNS = 256, 320
DEPTH_MM = (4.0, 64.0)       # imaged depths
HALF_ANGLE = np.radians(35)  # sector half-opening
BEAMS, SAMPLES = 192, 480    # polar grid: beams x depth samples
FIELD_MM = (-50.0, 50.0, -4.0, 72.0)  # phantom extent: x0, x1, z0, z1
SCATTER_PITCH = 0.15         # mm between scatterer-field samples (about 15 per resolution cell)
AXIAL_SIGMA_MM = 0.22
LATERAL_SIGMA_RAD = np.radians(0.55)
DYNAMIC_RANGE_DB = 50.0


def echogenicity(rng):
    """A random phantom: a function of (x, z) in mm giving the mean scatter power."""
    layers = []
    z = rng.uniform(6, 14)
    while z < 60:
        layers.append((z, np.tan(np.radians(rng.uniform(-12, 12))), rng.uniform(0.35, 2.2)))
        z += rng.uniform(8, 22)
    cysts = [(rng.uniform(-25, 25), rng.uniform(12, 58), rng.uniform(1.5, 6.0)) for _ in range(rng.integers(1, 5))]
    inclusions = [(rng.uniform(-25, 25), rng.uniform(10, 58), rng.uniform(1.0, 4.0), rng.uniform(0.5, 2.0),
                   rng.uniform(0, np.pi), rng.uniform(3, 8)) for _ in range(rng.integers(0, 4))]
    wall = (rng.uniform(-20, 20), rng.uniform(20, 50), np.radians(rng.uniform(-40, 40)), rng.uniform(8, 25))

    def power(x, z):
        level = np.ones_like(x)
        for depth, slope, value in layers:
            level = np.where(z > depth + slope * x, value, level)
        for cx, cz, radius, long_axis, angle, value in inclusions:
            u = (x - cx) * np.cos(angle) + (z - cz) * np.sin(angle)
            v = -(x - cx) * np.sin(angle) + (z - cz) * np.cos(angle)
            level = np.where((u / (radius * long_axis)) ** 2 + (v / radius) ** 2 < 1, value, level)
        for cx, cz, radius in cysts:
            level = np.where((x - cx) ** 2 + (z - cz) ** 2 < radius ** 2, 0.01, level)
        wx, wz, angle, length = wall
        along = (x - wx) * np.cos(angle) + (z - wz) * np.sin(angle)
        across = -(x - wx) * np.sin(angle) + (z - wz) * np.cos(angle)
        level = np.where((np.abs(across) < 0.4) & (np.abs(along) < length / 2), 12.0, level)
        return level

    return power


def gaussian_filter_axis(field, sigma_samples, axis):
    """Convolution with a Gaussian along one axis, by FFT (zero-padded)."""
    n = field.shape[axis]
    pad = int(4 * sigma_samples) + 1
    size = n + 2 * pad
    frequencies = np.fft.fftfreq(size)
    response = np.exp(-2 * (np.pi * frequencies * sigma_samples) ** 2)
    shape = [1] * field.ndim
    shape[axis] = size
    padded = np.pad(field, [(pad, pad) if a == axis else (0, 0) for a in range(field.ndim)])
    filtered = np.fft.ifft(np.fft.fft(padded, axis=axis) * response.reshape(shape), axis=axis)
    return np.take(filtered, np.arange(pad, pad + n), axis=axis)


def bilinear(field, fx, fz):
    """Samples a 2-D field [z, x] at fractional indices (zero outside)."""
    h, w = field.shape
    x0, z0 = np.floor(fx).astype(int), np.floor(fz).astype(int)
    ax, az = fx - x0, fz - z0
    result = np.zeros(fx.shape, dtype=field.dtype)
    for dz, wz in ((0, 1 - az), (1, az)):
        for dx, wx in ((0, 1 - ax), (1, ax)):
            zz, xx = z0 + dz, x0 + dx
            inside = (zz >= 0) & (zz < h) & (xx >= 0) & (xx < w)
            result += np.where(inside, field[np.clip(zz, 0, h - 1), np.clip(xx, 0, w - 1)], 0) * wz * wx
    return result


# The polar grid and the scan conversion are the same for every frame.
ANGLES = np.linspace(-HALF_ANGLE, HALF_ANGLE, BEAMS)
DEPTHS = np.linspace(DEPTH_MM[0], DEPTH_MM[1], SAMPLES)
PIXEL_MM = (DEPTH_MM[1] + 2) / ROWS
_y, _x = np.mgrid[0:ROWS, 0:COLUMNS]
_px, _pz = (_x - (COLUMNS - 1) / 2) * PIXEL_MM, _y * PIXEL_MM
_radius, _angle = np.hypot(_px, _pz), np.arctan2(_px, _pz)
SECTOR = (_radius >= DEPTH_MM[0]) & (_radius <= DEPTH_MM[1]) & (np.abs(_angle) <= HALF_ANGLE)
# Scan conversion: each sector pixel's four polar neighbours and their bilinear weights.
_beam = ((_angle + HALF_ANGLE) / (2 * HALF_ANGLE) * (BEAMS - 1))[SECTOR]
_sample = ((_radius - DEPTH_MM[0]) / (DEPTH_MM[1] - DEPTH_MM[0]) * (SAMPLES - 1))[SECTOR]
_b0, _s0 = np.clip(np.floor(_beam).astype(int), 0, BEAMS - 2), np.clip(np.floor(_sample).astype(int), 0, SAMPLES - 2)
_wb, _ws = _beam - _b0, _sample - _s0
SCAN_INDICES = [(_s0 + ds) * BEAMS + _b0 + db for ds in (0, 1) for db in (0, 1)]
SCAN_WEIGHTS = [(_ws if ds else 1 - _ws) * (_wb if db else 1 - _wb) for ds in (0, 1) for db in (0, 1)]
_axial_samples = AXIAL_SIGMA_MM / (DEPTHS[1] - DEPTHS[0])
_lateral_samples = LATERAL_SIGMA_RAD / (ANGLES[1] - ANGLES[0])


def phantom_cine(rng, frames):
    power = echogenicity(rng)
    nz = int((FIELD_MM[3] - FIELD_MM[2]) / SCATTER_PITCH)
    nx = int((FIELD_MM[1] - FIELD_MM[0]) / SCATTER_PITCH)
    # Power is smooth at the scatterer pitch: a coarser grid, interpolated, does.
    coarse = 4
    gz, gx = np.mgrid[0:nz // coarse + 1, 0:nx // coarse + 1]
    power_field = power(FIELD_MM[0] + gx * coarse * SCATTER_PITCH, FIELD_MM[2] + gz * coarse * SCATTER_PITCH)
    scatterers = (rng.standard_normal((nz, nx)) + 1j * rng.standard_normal((nz, nx))).astype(np.complex64) / np.sqrt(2)
    # The RMS envelope of uniform tissue of power 1: the log compression's reference.
    reference_db = 20 * np.log10(np.sqrt(1.0 / (4 * np.pi * _axial_samples * _lateral_samples)))
    shift_x, shift_z, tilt = rng.uniform(-6, 6), rng.uniform(-2, 2), np.radians(rng.uniform(-6, 6))
    velocity = (rng.uniform(-0.6, 0.6), rng.uniform(-0.2, 0.2), np.radians(rng.uniform(-0.5, 0.5)))
    images = []
    for _ in range(frames):
        images.append(frame_image(scatterers, power_field, coarse, shift_x, shift_z, tilt, reference_db))
        shift_x += velocity[0] + rng.normal(0, 0.1)
        shift_z += velocity[1] + rng.normal(0, 0.05)
        tilt += velocity[2]
    return images


def frame_image(scatterers, power_coarse, coarse, shift_x, shift_z, tilt, reference_db):
    """One B-mode frame, 8-bit [ROWS, COLUMNS], of the probe at (shift, tilt);
    the power grid is `coarse` times coarser than the scatterer grid."""
    theta = ANGLES[None, :] + tilt
    x = DEPTHS[:, None] * np.sin(theta) + shift_x
    z = DEPTHS[:, None] * np.cos(theta) + shift_z
    fx = (x - FIELD_MM[0]) / SCATTER_PITCH
    fz = (z - FIELD_MM[2]) / SCATTER_PITCH
    polar = bilinear(scatterers, fx, fz) * np.sqrt(bilinear(power_coarse, fx / coarse, fz / coarse))
    polar = gaussian_filter_axis(polar, _axial_samples, axis=0)
    polar = gaussian_filter_axis(polar, _lateral_samples, axis=1)
    decibels = 20 * np.log10(np.abs(polar) + 1e-12) - reference_db
    compressed = np.clip((decibels + 30) / DYNAMIC_RANGE_DB, 0, 1)  # tissue of power 1 at 0.6
    flat = compressed.ravel()
    image = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    image[SECTOR] = np.round(sum(flat[i] * w for i, w in zip(SCAN_INDICES, SCAN_WEIGHTS)) * 255).astype(np.uint8)
    return image


def write_cine(path, images, seed, index):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = US_MULTIFRAME
    meta.MediaStorageSOPInstanceUID = uid(seed, index, "instance")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "2.25.238734916127812394847123984712398471"
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid(seed, index, "study")
    ds.SeriesInstanceUID = uid(seed, index, "series")
    ds.FrameOfReferenceUID = uid(seed, index, "frame of reference")
    ds.PatientName = f"SIMULATED^PHANTOM {index:04d}"
    ds.PatientID = f"SIM-{seed}-{index:04d}"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20000101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "000000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = f"SIM{index:04d}"
    ds.StudyDescription = "Simulated B-mode phantom (not a patient)"
    ds.SeriesDescription = "Simulated B-mode phantom cine"
    ds.Modality = "US"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Manufacturer = "medsynth B-mode simulator"
    ds.ManufacturerModelName = "samples/simulate_bmode.py"
    ds.ImageComments = (f"Simulated B-mode ultrasound of a random tissue phantom, seed {seed}, phantom {index}: "
                        "not a patient, no patient data")
    ds.PatientOrientation = ""
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = len(images)
    ds.FrameIncrementPointer = pydicom.tag.Tag("FrameTime")
    ds.FrameTime = "33.3"
    region = Dataset()
    ys, xs = np.nonzero(SECTOR)
    region.RegionSpatialFormat = 1   # 2D
    region.RegionDataType = 1        # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = int(xs.min()), int(ys.min())
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = int(xs.max()), int(ys.max())
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX = region.PhysicalDeltaY = PIXEL_MM / 10
    ds.SequenceOfUltrasoundRegions = Sequence([region])
    ds.PixelData = np.stack(images).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (created; files phantom-NNNN.dcm)")
    parser.add_argument("--phantoms", type=int, default=300)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    os.makedirs(arguments.out, exist_ok=True)
    for index in range(arguments.phantoms):
        rng = np.random.default_rng([arguments.seed, index])
        images = phantom_cine(rng, arguments.frames)
        write_cine(os.path.join(arguments.out, f"phantom-{index:04d}.dcm"), images, arguments.seed, index)
    print(f"simulate_bmode: {arguments.phantoms} phantoms x {arguments.frames} frames in {arguments.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
