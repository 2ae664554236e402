#!/usr/bin/python3
"""Simulated X-ray aortography cines of a TAVI stent, with keypoints, as XA DICOM.

A labelled set that no one can mistake for a patient. Each cine is a cone-beam
projection (source to detector 1000 mm, to isocentre 750 mm, the frame covering
140 x 140 mm of detector) of a valve frame in a contrast-filled aortic root in
front of a chest. The frame is a 3-D lattice of diamond cells (12 to 15 around,
2 to 4 along the axis, flared inflow, slightly oval) closed by a wire ring at
each end, tilted at random (5 to 35 degrees towards or away from the viewer, up
to 35 in the image plane, outflow up) and drawn as thin dense wires. The root (a
tube with the sinus bulb, cut square at the annulus, bending towards the arch)
fills with contrast and washes out (a gamma-variate curve over the cine), a
pigtail catheter lies in it, and all of it moves with the heart beat (55 to 100
a minute: translation, small rotation and scale) before a static chest (soft
tissue, heart shadow, diaphragm, spine, ribs). Pixels are Poisson photon counts
after a slight blur, proportional to the intensity (Pixel Intensity
Relationship LIN): dense material is dark on a bright background.

Every file says what it is: Patient Name SIMULATED^XA PHANTOM <n>, Patient ID
SIM-XA-<seed>-<n>, Manufacturer "medsynth XA simulator", Study and Series
Descriptions and Image Comments naming the simulation. The files are not marked
Synthetic Data: they play the part of acquired studies in the benchmark
(medsynth keeps Synthetic Data YES for frames a model generated). Each cine is a
series; a phantom patient has 1 to 3 cines (one study) sharing valve and root.

Keypoints (xa/annotations.json, COCO), per frame: "inflow-left", "inflow-right",
"outflow-left", "outflow-right". With n the image unit vector across the
projected stent axis (inflow to outflow centre) with a positive x component
(the axis stays within 40 degrees of vertical, so n never flips), the ends of
an edge are the points of its ring (the wire's centre line) with the smallest
("left") and largest ("right") coordinate along n. Pixel coordinates: (0, 0) is
the centre of the top-left pixel, x right, y down, for the renderer too. The
segmentation polygon is the convex hull of the projected frame, which lies
inside the image by construction.

    samples/simulate_xa.py OUT_DIR [--cines N] [--frames F] [--size S] [--seed S]
                           [--keypoints-at SIZE] [--segmentations]

--keypoints-at SIZE also writes known/annotations-SIZE.json (beside xa/, so that
importing xa/ leaves it out), the keypoints on a SIZE x SIZE grid over the same
field, re-projected from the stent (x_SIZE = (x + 0.5) SIZE / S - 0.5): the known
answer for the keypoints of frames prepared at that size.
--segmentations writes a binary DICOM Segmentation per cine (xa/seg/). The same
arguments give the same files (UIDs derive from the seed too). Needs Debian's
python3-numpy and python3-pydicom.
"""
import argparse
import json
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from simulated import uid

XA_IMAGE = "1.2.840.10008.5.1.4.1.1.12.1"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
SID_MM, SOD_MM = 1000.0, 750.0  # source to detector, source to isocentre
FIELD_MM = 140.0                # detector width (and height) the frame covers
FRAME_TIME_MS = 1000 / 15       # 15 frames a second
BLUR_MM = 0.3                   # focal spot and detector unsharpness (sigma, at the detector)
RING_SAMPLES = 720              # points per end ring when looking for its ends
KEYPOINTS = ["inflow-left", "inflow-right", "outflow-left", "outflow-right"]
SKELETON = [[1, 2], [3, 4], [1, 3], [2, 4]]


def project(points, size):
    """Cone-beam projection of points [..., 3] in camera coordinates (mm; the source at the origin,
    z towards the detector, x along the rows' pixels, y down the columns) onto a size x size frame,
    in pixel coordinates ((0, 0) the centre of the top-left pixel; the frame spans -0.5 to size - 0.5)."""
    scale = SID_MM / points[..., 2] * size / FIELD_MM  # pixels per mm at the point's depth
    return points[..., :2] * scale[..., None] + (size - 1) / 2


def rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def design(rng):
    """A phantom patient: the valve frame and the aortic root, in the frame's coordinates (mm; origin
    on the axis at mid-height, z from the inflow to the outflow)."""
    d = dict(cells=int(rng.integers(12, 16)), rows=int(rng.integers(2, 5)), radius=rng.uniform(11.5, 14.5),
             flare=rng.uniform(0.5, 2.5), wire=rng.uniform(0.18, 0.25), mu=rng.uniform(0.8, 1.2),
             oval=rng.uniform(0, 0.05), oval_angle=rng.uniform(0, np.pi))  # a deployed frame is not quite round
    d["height"] = d["rows"] * rng.uniform(6.5, 9.5)
    # Root centre line: straight from the annulus past the sinuses, then bending towards the arch.
    straight, bend_radius, bend = rng.uniform(25, 35), rng.uniform(45, 70), rng.uniform(0, 2 * np.pi)
    s = np.arange(0, 170, 4.0)  # arc length from the annulus, 2 mm above the inflow
    angle = np.minimum(np.clip(s - straight, 0, None) / bend_radius, np.radians(110))
    tangent = np.stack([np.sin(angle) * np.cos(bend), np.sin(angle) * np.sin(bend), np.cos(angle)], -1)
    line = np.cumsum(np.vstack([[0, 0, 0], tangent[:-1] * 4.0]), axis=0) + [0, 0, -d["height"] / 2 + 2]
    sinus, aorta = d["radius"] + rng.uniform(4, 7), d["radius"] + rng.uniform(1.5, 4)
    radii = aorta + (d["radius"] + 0.5 - aorta) * np.exp(-s / 3) + (sinus - aorta) * np.exp(-((s - 13) / 7) ** 2)
    d["root"] = (line, radii)
    # Pigtail catheter: down the root beside its centre line, curling in a sinus.
    side = np.array([np.cos(bend + rng.uniform(0.5, 5.8)), np.sin(bend + rng.uniform(0.5, 5.8)), 0])
    shaft = (line + 0.6 * radii[:, None] * side)[s >= 14][::-1]
    psi, loop = np.linspace(0, 2.3 * np.pi, 60)[:, None], 4.5  # a 4.5 mm curl, starting downwards
    d["catheter"] = np.vstack([shaft, shaft[-1] - loop * side + loop * (np.cos(psi) * side - np.sin(psi) * [0, 0, 1])])
    return d


def ring(d, h, phi):
    """Points of the frame's surface at height h (0 inflow .. height outflow) and angles phi."""
    r = d["radius"] + d["flare"] * np.clip(1 - 2 * h / d["height"], 0, None) ** 2
    r = r * (1 + d["oval"] * np.cos(2 * (phi - d["oval_angle"])))
    return np.stack([r * np.cos(phi), r * np.sin(phi), np.full_like(phi, h - d["height"] / 2)], -1)


def stent_wires(d, per_mm):
    """Sample points along the wires [n, 3] and the wire length each stands for [n] (mm)."""
    levels, step = 2 * d["rows"], 2 * np.pi / d["cells"]
    nodes = [ring(d, j * d["height"] / levels, (np.arange(d["cells"]) + 0.5 * (j % 2)) * step) for j in range(levels + 1)]
    a, b = [], []
    for j in range(levels):  # each node joins the two nearest nodes of the next level: diamond cells
        for k in ((0, -1) if j % 2 == 0 else (0, 1)):
            a.append(nodes[j])
            b.append(np.roll(nodes[j + 1], -k, axis=0))
    for h in (0, d["height"]):  # the end rings, as 180 chords (0.002 mm inside the circle at most)
        points = ring(d, h, np.linspace(0, 2 * np.pi, 181))
        a.append(points[:-1])
        b.append(points[1:])
    a, b = np.vstack(a), np.vstack(b)
    lengths = np.linalg.norm(b - a, axis=1)
    counts = np.ceil(lengths * per_mm).astype(int)
    which = np.repeat(np.arange(len(a)), counts)
    t = (np.arange(which.size) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) / counts[which]
    return a[which] + t[:, None] * (b - a)[which], (lengths / counts)[which]


def poses(rng, frames):
    """Per frame: (rotation, centre, scale) taking the frame's coordinates to the camera's. The stent's
    bounding sphere (below 26.1 mm, times 1.04) stays below 62 mm from the centre of the 70 mm half-field."""
    tilt = rng.choice([-1, 1]) * rng.uniform(5, 35)
    base = (rotation([0, 0, 1], np.radians(rng.uniform(-35, 35))) @ rotation([1, 0, 0], np.radians(tilt))
            @ np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # frame z (outflow) to image up
            @ rotation([0, 0, 1], rng.uniform(0, 2 * np.pi)))
    centre = np.array([rng.uniform(-8, 8), rng.uniform(-8, 8), SOD_MM + rng.uniform(-15, 15)])
    shift = rng.normal(size=3) * [1, 1, 0.5]  # the beat's displacement, 2 to 5 mm
    shift *= rng.uniform(2, 5) / np.linalg.norm(shift)
    spin_axis = rng.normal(size=3) * [0.3, 0.3, 1]
    spin, grow = np.radians(rng.uniform(1.5, 4)), rng.uniform(0.01, 0.04)
    beat_hz, phase = rng.uniform(55, 100) / 60, rng.uniform(0, 1)
    p = 2 * np.pi * (np.arange(frames) * FRAME_TIME_MS / 1000 * beat_hz + phase)
    beat = 0.5 - 0.5 * np.cos(p + 0.6 * np.sin(p))  # 0 .. 1, a quick systole and a slower relaxation
    return [(rotation(spin_axis, spin * w) @ base, centre + w * shift, 1 + grow * w) for w in beat]


def geometry(d, pose, size):
    """Keypoints [4, 2] and outline (convex hull, counter-clockwise in x, y) of the stent at a pose."""
    rot, centre, scale = pose
    world = lambda local: centre + scale * local @ rot.T
    axis = project(world(np.array([[0, 0, -d["height"] / 2], [0, 0, d["height"] / 2]])), size)
    along = (axis[1] - axis[0]) / np.linalg.norm(axis[1] - axis[0])
    across = np.array([-along[1], along[0]]) * np.sign(-along[1])  # x component > 0 while outflow is up
    phi = np.linspace(0, 2 * np.pi, RING_SAMPLES, endpoint=False)
    keypoints, outline = [], []
    for h in (0, d["height"]):
        points = project(world(ring(d, h, phi)), size)
        coordinate = points @ across
        keypoints += [points[np.argmin(coordinate)], points[np.argmax(coordinate)]]
        outline.append(points[::8])  # nodes of the end levels lie on the rings; struts are straight
    return np.array(keypoints), convex_hull(np.vstack(outline))


def convex_hull(points):
    """Andrew's monotone chain."""
    points = sorted(map(tuple, points))
    cross = lambda o, a, b: (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    hull = []
    for sequence in (points, points[::-1]):
        half = []
        for p in sequence:
            while len(half) >= 2 and cross(half[-2], half[-1], p) <= 0:
                half.pop()
            half.append(p)
        hull += half[:-1]
    return np.array(hull)


def polygon_mask(polygon, size):
    """Pixels whose centres lie inside a polygon [n, 2] by the even-odd rule, a centre on a left or top
    edge counting: medsynth's reading of a COCO polygon (LabelMask+COCO.swift), so the SEG matches it."""
    a, b, y = polygon, np.roll(polygon, -1, axis=0), np.arange(size)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where((a[:, 1] <= y) != (b[:, 1] <= y), a[:, 0] + (y - a[:, 1]) / (b[:, 1] - a[:, 1]) * (b[:, 0] - a[:, 0]),
                     np.inf)  # where each row of pixel centres crosses each edge
    x, columns, mask = np.sort(x, axis=1), np.arange(size), np.zeros((size, size), bool)
    for pair in range(0, np.isfinite(x).sum(axis=1).max() - 1, 2):
        mask |= (columns >= np.ceil(x[:, pair, None])) & (columns <= np.ceil(x[:, pair + 1, None]) - 1)
    return mask


def splat(image, xy, weights):
    """Adds weights at fractional pixel positions, bilinearly."""
    size = image.shape[0]
    x0, y0 = np.floor(xy[:, 0]).astype(int), np.floor(xy[:, 1]).astype(int)
    fx, fy = xy[:, 0] - x0, xy[:, 1] - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xx, yy = x0 + dx, y0 + dy
            ok = (xx >= 0) & (xx < size) & (yy >= 0) & (yy < size)
            image += np.bincount(yy[ok] * size + xx[ok], (weights * wx * wy)[ok], size * size).reshape(size, size)


def tube(image, line, radii, size, flat_start=False):
    """Chord length (mm) through a tube along a projected centre line, into image (maximum over
    segments, so bends stay round); flat_start cuts it square at its start (the annulus)."""
    scale = SID_MM / line[:, 2] * size / FIELD_MM
    xy, r = project(line, size), radii * scale
    start, direction = xy[0], xy[1] - xy[0]
    for k in range(len(xy) - 1):
        a, b, reach = xy[k], xy[k + 1], max(r[k], r[k + 1]) + 1
        x0, y0 = np.maximum(np.floor(np.minimum(a, b) - reach).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(np.maximum(a, b) + reach).astype(int) + 1, size)
        if x1 <= x0 or y1 <= y0:
            continue
        y, x = np.mgrid[y0:y1, x0:x1]
        ab = b - a
        t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1]) / max(ab @ ab, 1e-9)
        tc = np.clip(t, 0, 1)
        distance2 = (x - a[0] - tc * ab[0]) ** 2 + (y - a[1] - tc * ab[1]) ** 2
        chord = 2 * np.sqrt(np.clip((r[k] + tc * (r[k + 1] - r[k])) ** 2 - distance2, 0, None))
        chord /= scale[k] + tc * (scale[k + 1] - scale[k])
        if flat_start:
            chord[(x - start[0]) * direction[0] + (y - start[1]) * direction[1] < 0] = 0
        np.maximum(image[y0:y1, x0:x1], chord, out=image[y0:y1, x0:x1])


def blur(image, sigma):
    """Separable Gaussian blur (sigma in pixels), edges extended."""
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in (0, 1):
        padded = np.pad(image, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        n = image.shape[axis]
        image = sum(w * np.take(padded, np.arange(i, i + n), axis=axis) for i, w in enumerate(kernel))
    return image


def chest(rng, size):
    """Static attenuation (line integral, dimensionless) of the chest around the aortic root."""
    mm = FIELD_MM / size * SOD_MM / SID_MM  # pixel size at the isocentre
    y, x = (np.mgrid[0:size, 0:size] - (size - 1) / 2) * mm
    smooth = lambda v, width: 1 / (1 + np.exp(-v / width))
    a = np.zeros((size, size))
    for _ in range(5):  # soft tissue
        k = rng.normal(size=2) / 70
        a += rng.uniform(0.02, 0.08) * np.cos(2 * np.pi * (k[0] * x + k[1] * y) + rng.uniform(0, 2 * np.pi))
    hx, hy, ha, hb = rng.uniform(-25, 25), rng.uniform(5, 30), rng.uniform(45, 65), rng.uniform(40, 55)
    a += rng.uniform(0.25, 0.45) * smooth(1 - np.hypot((x - hx) / ha, (y - hy) / hb), 0.06)  # heart
    cy = rng.uniform(45, 80)  # diaphragm: a dome below the heart
    a += rng.uniform(0.3, 0.5) * smooth(120 - np.hypot(x - rng.uniform(-40, 40), y - cy - 120), 3)
    angle, sx = np.radians(rng.uniform(-10, 10)), rng.choice([-1, 1]) * rng.uniform(25, 60)
    u = (x - sx) * np.cos(angle) - y * np.sin(angle)  # across the spine
    v = (x - sx) * np.sin(angle) + y * np.cos(angle)  # along it
    half, period = rng.uniform(17, 23), rng.uniform(27, 33)
    q = np.abs(((v / period + rng.uniform(0, 1)) % 1) - 0.5)  # 0.5 at the discs
    body = np.sqrt(np.clip(1 - (u / half) ** 2, 0, None)) * (0.75 + 0.25 * smooth(0.4 - q, 0.02))
    a += rng.uniform(0.35, 0.55) * body + 0.15 * np.exp(-((np.abs(u) - 0.92 * half) / 1.5) ** 2)
    for side, weight in ((-1, 1), (1, 0.5)):  # posterior and fainter anterior ribs: arcs around a centre above
        c = np.array([side * rng.uniform(60, 140), -rng.uniform(120, 200)])
        r = np.hypot(x - c[0], y - c[1])
        spacing, width = rng.uniform(24, 32), rng.uniform(4.5, 6.5)
        for k in range(-6, 7):
            dist = r - (np.hypot(*c) + k * spacing + rng.uniform(-4, 4))
            chord = lambda w: np.sqrt(np.clip(w ** 2 - dist ** 2, 0, None))
            a += weight * rng.uniform(0.01, 0.025) * (chord(width) - 0.8 * chord(0.8 * width))  # cortex denser
    return a


def cine(d, rng, frames, size):
    """The frames (uint8), the poses, and the stent-only attenuation of each frame (for the checks)."""
    wires, lengths = stent_wires(d, per_mm=4 * size / FIELD_MM)
    background = chest(rng, size)
    reference = np.percentile(background, 2)
    counts = rng.uniform(300, 900) * (256 / size) ** 2  # photons in the brightest pixels
    arrival, peak, shape = rng.uniform(0, 0.15), rng.uniform(0.2, 0.35), rng.uniform(2, 3)
    iodine = rng.uniform(0.02, 0.03)  # attenuation per mm of opacified blood at the bolus's peak
    images, stents, frame_poses = [], [], poses(rng, frames)
    for f, (rot, centre, scale) in enumerate(frame_poses):
        world = lambda local: centre + scale * local @ rot.T
        stent, contrast, cath = np.zeros((3, size, size))
        points = world(wires)
        px_per_mm = SID_MM / points[:, 2] * size / FIELD_MM
        # Each sample is a bit of wire of volume pi r^2 ds: its line integral spread over pixels.
        splat(stent, project(points, size), d["mu"] * np.pi * d["wire"] ** 2 * lengths * scale * px_per_mm ** 2)
        tube(contrast, world(d["root"][0]), scale * d["root"][1], size, flat_start=True)
        tube(cath, world(d["catheter"]), np.full(len(d["catheter"]), scale * 1.0), size)  # 6 French
        u = max((f + 0.5) / frames - arrival, 0) / peak
        sharp = iodine * u ** shape * np.exp(shape * (1 - u)) * contrast + 0.12 * cath
        stents.append(blur(stent, BLUR_MM * size / FIELD_MM))
        attenuation = background + stents[-1] + blur(sharp, BLUR_MM * size / FIELD_MM)
        photons = rng.poisson(counts * np.exp(reference - attenuation))
        images.append(np.clip(np.round(photons * (235 / counts)), 0, 255).astype(np.uint8))
    return images, frame_poses, stents


def annotation(d, pose, size, image_id):
    """The COCO annotation of a frame seen on a size x size grid, and its keypoints."""
    keypoints, hull = geometry(d, pose, size)
    margin = 3 * size / 256  # by construction 8 mm of detector, 14.6 pixels at 256
    assert (keypoints >= margin).all() and (keypoints <= size - 1 - margin).all(), "a keypoint near the edge"
    assert (hull >= -0.5).all() and (hull <= size - 0.5).all(), "the stent leaves the frame"  # so no clipping
    x, y = hull[:, 0], hull[:, 1]
    area = 0.5 * abs(x @ np.roll(y, -1) - y @ np.roll(x, -1))
    rounded = lambda values: [round(float(v), 3) for v in values]
    return {"id": image_id, "image_id": image_id, "category_id": 1,
            "keypoints": [v for p in keypoints for v in rounded(p) + [2]], "num_keypoints": 4,
            "bbox": rounded((x.min(), y.min(), x.max() - x.min(), y.max() - y.min())), "area": round(float(area), 3),
            "iscrowd": 0, "segmentation": [rounded(hull.ravel())]}, keypoints


def item(**attributes):
    ds = Dataset()
    ds.update(attributes)  # keywords
    return ds


def base_dataset(path, sop_class, instance, seed, patient, study_index, **attributes):
    """The attributes a cine and its segmentation share: patient, study, equipment, marking."""
    meta = FileMetaDataset()
    meta.update(dict(MediaStorageSOPClassUID=sop_class, MediaStorageSOPInstanceUID=instance,
                     TransferSyntaxUID=ExplicitVRLittleEndian,
                     ImplementationClassUID="2.25.238734916127812394847123984712398471"))
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.update(dict(
        SpecificCharacterSet="ISO_IR 192", SOPClassUID=sop_class, SOPInstanceUID=instance,
        StudyInstanceUID=uid(seed, "xa", patient, "study"), PatientName=f"SIMULATED^XA PHANTOM {patient:04d}",
        PatientID=f"SIM-XA-{seed}-{patient:04d}", PatientBirthDate="", PatientSex="O",
        StudyDate="20000101", SeriesDate="20000101", ContentDate="20000101",
        StudyTime="000000", SeriesTime=f"{study_index:02d}0000", ContentTime=f"{study_index:02d}0000",
        AccessionNumber="", ReferringPhysicianName="", StudyID=f"SIMXA{patient:04d}",
        StudyDescription="Simulated TAVI aortography phantom (not a patient)",
        Manufacturer="medsynth XA simulator", ManufacturerModelName="samples/simulate_xa.py",
        DeviceSerialNumber="0", SoftwareVersions="1", InstanceNumber=1,
        PatientOrientation="",  # no patient coordinates in a projection
        SamplesPerPixel=1, PhotometricInterpretation="MONOCHROME2", PixelRepresentation=0,
        LossyImageCompression="00", **attributes))
    ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds


def write_cine(path, images, seed, index, patient, study_index):
    angles = np.random.default_rng([seed, 3, index]).uniform([-30, -20], [30, 20])  # nominal: the tilt is random
    ds = base_dataset(
        path, XA_IMAGE, uid(seed, "xa", index, "instance"), seed, patient, study_index,
        SeriesInstanceUID=uid(seed, "xa", index, "series"), Modality="XA", SeriesNumber=study_index,
        SeriesDescription="Simulated aortography cine", AcquisitionDate="20000101",
        AcquisitionTime=f"{study_index:02d}0000",
        ImageComments=(f"Simulated X-ray aortography of a TAVI stent phantom, seed {seed}, cine {index}: "
                       "not a patient, no patient data"),
        ImageType=["DERIVED", "PRIMARY", "SINGLE PLANE"],
        BodyPartExamined="HEART", ImageLaterality="U",  # unpaired (Laterality is for paired parts)
        BurnedInAnnotation="NO", Rows=images[0].shape[0], Columns=images[0].shape[1],
        BitsAllocated=8, BitsStored=8, HighBit=7,
        PixelIntensityRelationship="LIN",  # proportional to the counts: less intensity, lower values
        NumberOfFrames=len(images), FrameIncrementPointer=pydicom.tag.Tag("FrameTime"),
        FrameTime=f"{FRAME_TIME_MS:.2f}", CineRate=round(1000 / FRAME_TIME_MS),
        RecommendedDisplayFrameRate=round(1000 / FRAME_TIME_MS),
        ContrastBolusAgent="Iodinated contrast (simulated)", ContrastBolusRoute="INTRA-ARTERIAL",
        KVP="80", XRayTubeCurrent=600, ExposureTime=7, RadiationSetting="GR", RadiationMode="PULSED",
        ImagerPixelSpacing=[f"{FIELD_MM / images[0].shape[0]:.6f}"] * 2,
        DistanceSourceToDetector=f"{SID_MM:.1f}", DistanceSourceToPatient=f"{SOD_MM:.1f}",
        EstimatedRadiographicMagnificationFactor=f"{SID_MM / SOD_MM:.4f}", PositionerMotion="STATIC",
        PositionerPrimaryAngle=f"{angles[0]:.1f}", PositionerSecondaryAngle=f"{angles[1]:.1f}",
        PixelData=np.stack(images).tobytes())
    ds.save_as(path, write_like_original=False)
    return ds


def code(value, scheme, meaning):
    return Sequence([item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)])


def write_segmentation(path, masks, cine_ds, seed, index, patient, study_index):
    """A binary Segmentation of the cine: one segment, one frame per cine frame."""
    ds = base_dataset(
        path, SEGMENTATION, uid(seed, "xa", index, "seg instance"), seed, patient, study_index,
        SeriesInstanceUID=uid(seed, "xa", index, "seg series"), Modality="SEG", SeriesNumber=100 + study_index,
        SeriesDescription="Simulated aortography cine: stent outline",
        ImageComments=f"Stent outline of simulated cine {index} (seed {seed}): not a patient, no patient data",
        ImageType=["DERIVED", "PRIMARY"], ContentLabel="STENT", ContentDescription="Simulated stent outline",
        ContentCreatorName="", Rows=masks[0].shape[0], Columns=masks[0].shape[1],
        BitsAllocated=1, BitsStored=1, HighBit=0, NumberOfFrames=len(masks), SegmentationType="BINARY")
    ds.SegmentSequence = Sequence([item(
        SegmentNumber=1, SegmentLabel="Stent", SegmentAlgorithmType="AUTOMATIC",
        SegmentAlgorithmName="medsynth XA simulator",
        SegmentedPropertyCategoryCodeSequence=code("260787004", "SCT", "Physical object"),
        SegmentedPropertyTypeCodeSequence=code("65818007", "SCT", "Stent"))])
    ds.ReferencedSeriesSequence = Sequence([item(
        SeriesInstanceUID=cine_ds.SeriesInstanceUID, ReferencedInstanceSequence=Sequence([item(
            ReferencedSOPClassUID=XA_IMAGE, ReferencedSOPInstanceUID=cine_ds.SOPInstanceUID)]))])
    # Dimensions: the segment, then the frame's place in time (its cine frame).
    organisation = uid(seed, "xa", index, "seg dimensions")
    ds.DimensionOrganizationSequence = Sequence([item(DimensionOrganizationUID=organisation)])
    ds.DimensionIndexSequence = Sequence([item(
        DimensionOrganizationUID=organisation, DimensionIndexPointer=pydicom.tag.Tag(pointer),
        FunctionalGroupPointer=pydicom.tag.Tag(group), DimensionDescriptionLabel=pointer)
        for pointer, group in (("ReferencedSegmentNumber", "SegmentIdentificationSequence"),
                               ("TemporalPositionIndex", "FrameContentSequence"))])
    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PixelMeasuresSequence=Sequence([item(PixelSpacing=cine_ds.ImagerPixelSpacing)]))])
    ds.PerFrameFunctionalGroupsSequence = Sequence([item(
        DerivationImageSequence=Sequence([item(
            SourceImageSequence=Sequence([item(
                ReferencedSOPClassUID=XA_IMAGE, ReferencedSOPInstanceUID=cine_ds.SOPInstanceUID,
                ReferencedFrameNumber=f + 1,
                PurposeOfReferenceCodeSequence=code("121322", "DCM", "Source image for image processing operation"))]),
            DerivationCodeSequence=code("113076", "DCM", "Segmentation"))]),
        FrameContentSequence=Sequence([item(DimensionIndexValues=[1, f + 1], TemporalPositionIndex=f + 1)]),
        SegmentIdentificationSequence=Sequence([item(ReferencedSegmentNumber=1)]))
        for f in range(len(masks))])
    ds.PixelData = np.packbits(np.stack(masks).ravel(), bitorder="little").tobytes()  # first pixel in bit 0
    ds.save_as(path, write_like_original=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (writes xa/cine-NNN.dcm, xa/annotations.json)")
    parser.add_argument("--cines", type=int, default=24)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keypoints-at", type=int, metavar="SIZE", help="also known/annotations-SIZE.json")
    parser.add_argument("--segmentations", action="store_true", help="also a DICOM Segmentation per cine")
    arguments = parser.parse_args()
    size, seed = arguments.size, arguments.seed
    folder = os.path.join(arguments.out, "xa")
    os.makedirs(os.path.join(folder, "seg") if arguments.segmentations else folder, exist_ok=True)
    # Phantom patients of 1 to 3 cines each, drawn in order (a prefix of the cines keeps its patients).
    groups, patient_rng = [], np.random.default_rng([seed, 2])  # (patient, cine's number in the study)
    while len(groups) < arguments.cines:
        patient = groups[-1][0] + 1 if groups else 0
        groups += [(patient, k + 1) for k in range(int(patient_rng.choice([1, 2, 3], p=[0.25, 0.5, 0.25])))]
    other = arguments.keypoints_at or 100  # the grid the convention check re-projects onto
    category = {"id": 1, "name": "tavi-stent", "supercategory": "prosthesis", "keypoints": KEYPOINTS, "skeleton": SKELETON}
    sets = [(s, {"info": {"description": f"Simulated X-ray aortography of TAVI stent phantoms (samples/simulate_xa.py), "
                                         f"keypoints on a {s} x {s} grid; not patients", "version": "1", "seed": seed},
                 "images": [], "categories": [category], "annotations": []}) for s in (size, other)]
    image_id = 0
    for index in range(arguments.cines):
        patient, study_index = groups[index]
        d = design(np.random.default_rng([seed, 0, patient]))
        images, frame_poses, stents = cine(d, np.random.default_rng([seed, 1, index]), arguments.frames, size)
        name = f"cine-{index:03d}.dcm"
        cine_ds = write_cine(os.path.join(folder, name), images, seed, index, patient, study_index)
        masks = []
        for f, pose in enumerate(frame_poses):
            image_id += 1
            found = []
            for s, coco in sets:
                coco["images"].append({"id": image_id, "file_name": name, "width": s, "height": s,
                                       "sop_instance_uid": cine_ds.SOPInstanceUID, "frame_number": f + 1})
                entry, keypoints = annotation(d, pose, s, image_id)
                coco["annotations"].append(entry)
                found.append(keypoints)
            # Checks: the re-projection follows the pixel-centre convention; each keypoint is within a pixel
            # of a wire (at small sizes a wire is about a pixel wide, so the nearest pixel alone may miss it).
            keypoints, other_keypoints = found
            assert np.abs(other_keypoints - ((keypoints + 0.5) * other / size - 0.5)).max() < 1e-6, "convention"
            wire = stents[f][stents[f] > 0.1 * stents[f].max()]
            at = np.array([stents[f][max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].max()
                           for r, c in np.round(keypoints[:, ::-1]).astype(int)])
            assert (at > 0.5 * np.median(wire)).all(), f"cine {index} frame {f}: a keypoint off the wires"
            if arguments.segmentations:
                polygon = sets[0][1]["annotations"][-1]["segmentation"][0]  # as written, rounded
                masks.append(polygon_mask(np.reshape(polygon, (-1, 2)), size))
        if arguments.segmentations:
            write_segmentation(os.path.join(folder, "seg", f"cine-{index:03d}-seg.dcm"), masks, cine_ds, seed,
                               index, patient, study_index)
    # The known answer goes beside xa/, not in it: importing xa/ must not import it as labels of the full frames.
    known = os.path.join(arguments.out, "known")
    for (_, coco), path in zip(sets[:2 if arguments.keypoints_at else 1],
                               [os.path.join(folder, "annotations.json"), os.path.join(known, f"annotations-{other}.json")]):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as file:
            json.dump(coco, file)
    patients = len({p for p, _ in groups[:arguments.cines]})
    print(f"simulate_xa: {arguments.cines} cines x {arguments.frames} frames ({patients} phantom patients) in {folder}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
