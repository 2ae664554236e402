#!/usr/bin/python3
"""Whether a labelled model's frames come with labels that fit them, on the
simulated aortography set (samples/simulate_xa.py, whose stent has four keypoints
and an outline).

    scripts/label_shapes.py FRAMES.npy|SYNTHETIC_FOLDER KNOWN.json XA_FOLDER

FRAMES.npy is `synthesize --format npy`'s frames.npy of a `train --labels
keypoints` model ([N, 1 + 4, 64, 64]) or of a `--labels masks` one ([N, 2, 64,
64]: the script then prints the masks' areas against the real ones, how binary
the channel is, and the frame inside the mask against outside). SYNTHETIC_FOLDER
is `synthesize`'s DICOM output of such a model instead: the frames are read from
its files with pydicom and the labels from its labels.json (keypoints as written,
masks from their COCO RLE), so the export is checked as a reader outside medsynth
sees it. KNOWN.json is the simulator's
`--keypoints-at 64` known answer for the real frames of XA_FOLDER (the same
--cines, --frames and --seed). Each heatmap is decoded independently of medsynth
(numpy: a centroid above the heat a Gaussian of the peak's height has at 2
sigma, as LabelChannels.decode), and the script prints the peaks' heights
(confidence), the stent's shape from the four points (inflow and outflow widths,
height) against the real frames', and the frame's brightness at the points
against its mean, generated and real: a frame whose labels fit it has the
stent's dark struts where its heatmaps peak. Needs python3-numpy and pydicom.
"""
import json
import os
import sys

import numpy as np
import pydicom


def decode(plane):
    """(x, y, confidence) of one heatmap in [-1, 1]."""
    side = plane.shape[0]
    heat = (plane + 1) / 2
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    confidence = float(np.clip(heat[peak], 0, 1))
    r0, r1, c0, c1 = max(0, peak[0] - 4), min(side, peak[0] + 5), max(0, peak[1] - 4), min(side, peak[1] + 5)
    weight = np.clip(heat[r0:r1, c0:c1] - confidence * np.exp(-2), 0, None)
    ys, xs = np.mgrid[r0:r1, c0:c1]
    total = weight.sum()
    if total == 0:
        return float(peak[1]), float(peak[0]), confidence
    return float((weight * xs).sum() / total), float((weight * ys).sum() / total), confidence


def shape(points):
    """Inflow width, outflow width and height of the stent's four points."""
    p = np.array(points)
    return np.linalg.norm(p[0] - p[1]), np.linalg.norm(p[2] - p[3]), np.linalg.norm((p[0] + p[1]) / 2 - (p[2] + p[3]) / 2)


def brightness_at(image, points):
    """The image's mean at the points (nearest pixel) minus its mean."""
    side = image.shape[0]
    values = [image[int(round(min(max(y, 0), side - 1))), int(round(min(max(x, 0), side - 1)))] for x, y in points]
    return np.mean(values) - image.mean()


def rle_mask(segmentation):
    """A COCO uncompressed RLE mask: run lengths in column-major order, clear first."""
    rows, columns = segmentation["size"]
    flat = np.zeros(rows * columns, dtype=bool)
    offset = 0
    for index, length in enumerate(segmentation["counts"]):
        flat[offset:offset + length] = index % 2 == 1
        offset += length
    return flat.reshape(columns, rows).T


def exported(folder):
    """(images [N, 64, 64] in [-1, 1], labels) of a synthesize DICOM folder: labels are
    [N, 4, 3] keypoints (x, y, confidence) or [N, 64, 64] masks, from its labels.json."""
    labels = json.load(open(os.path.join(folder, "labels.json")))
    files = {name: pydicom.dcmread(os.path.join(folder, name)) for name in {image["file_name"] for image in labels["images"]}}
    annotations = {annotation["image_id"]: annotation for annotation in labels["annotations"]}
    images, marks = [], []
    for image in labels["images"]:
        dataset = files[image["file_name"]]
        assert dataset.SOPInstanceUID == image["sop_instance_uid"], image
        pixels = dataset.pixel_array.reshape(-1, dataset.Rows, dataset.Columns)[image["frame_number"] - 1]
        images.append(pixels.astype(np.float64) / 127.5 - 1)
        annotation = annotations[image["id"]]
        if "segmentation" in annotation:
            marks.append(rle_mask(annotation["segmentation"]))
        else:
            values = annotation["keypoints"]
            marks.append([(values[3 * k], values[3 * k + 1], annotation["keypoint_confidences"][k]) for k in range(len(values) // 3)])
    return np.array(images), marks


known = json.load(open(sys.argv[2]))
if os.path.isdir(sys.argv[1]):
    images, marks = exported(sys.argv[1])
    is_masks = isinstance(marks[0], np.ndarray)
    print(f"read {len(images)} frames and their labels from the DICOM files and labels.json of {sys.argv[1]}")
else:
    frames = np.load(sys.argv[1])
    images, is_masks = frames[:, 0], frames.shape[1] == 2
    marks = list(frames[:, 1] > 0) if is_masks else [[decode(frame[1 + k]) for k in range(frames.shape[1] - 1)] for frame in frames]
if is_masks:
    masks = np.array(marks)  # the channel above 0, as LabelChannels.decode reads a mask
    frames = images[:, None]
    areas = masks.reshape(len(frames), -1).sum(1)
    real_areas = np.array([annotation["area"] for annotation in known["annotations"]])
    inside = [frame[0][mask].mean() - frame[0][~mask].mean() for frame, mask in zip(frames, masks) if mask.any() and not mask.all()]
    print(f"{len(frames)} generated frames; mask area {areas.mean():.0f} +- {areas.std():.0f} px (empty: {(areas == 0).sum()}), "
          f"real {real_areas.mean():.0f} +- {real_areas.std():.0f} px")
    if not os.path.isdir(sys.argv[1]):
        print(f"mask channel within 0.2 of -1 or 1: {np.mean(np.abs(np.abs(np.load(sys.argv[1])[:, 1]) - 1) < 0.2):.2f}")
    print(f"frame inside minus outside the mask: {np.mean(inside):+.3f} (sd {np.std(inside):.3f})")
    sys.exit(0)
decoded = marks
confidence = np.array([[d[2] for d in points] for points in decoded])
generated = np.array([shape([d[:2] for d in points]) for points in decoded])
generated_at = [brightness_at(image, [d[:2] for d in points]) for image, points in zip(images, decoded)]

files = [pydicom.dcmread(os.path.join(sys.argv[3], name)) for name in sorted(os.listdir(sys.argv[3])) if name.endswith(".dcm")]
by_uid = {ds.SOPInstanceUID: ds for ds in files}
known_images = {image["id"]: image for image in known["images"]}
real, real_at = [], []
for annotation in known["annotations"]:
    image = known_images[annotation["image_id"]]
    pixels = by_uid[image["sop_instance_uid"]].pixel_array[image["frame_number"] - 1].astype(np.float64)
    step = pixels.shape[0] // 64
    # The training image of a whole square 8-bit frame: its 64 x 64 area average in [-1, 1].
    small = pixels.reshape(64, step, 64, step).mean(axis=(1, 3)) / 127.5 - 1
    points = [annotation["keypoints"][3 * k:3 * k + 2] for k in range(4)]
    real.append(shape(points))
    real_at.append(brightness_at(small, points))
real = np.array(real)

print(f"{len(images)} generated frames; heatmap peaks (confidence), median per keypoint: {np.median(confidence, 0).round(2)}; "
      f"frames with every peak above 0.5: {np.mean((confidence > 0.5).all(1)):.2f}")
for i, name in enumerate(["inflow width", "outflow width", "height"]):
    print(f"{name:14s} real {real[:, i].mean():5.1f} +- {real[:, i].std():4.1f} px   "
          f"generated {generated[:, i].mean():5.1f} +- {generated[:, i].std():4.1f} px")
print(f"frame at the keypoints minus its mean: generated {np.mean(generated_at):+.3f} (sd {np.std(generated_at):.3f}), "
      f"real {np.mean(real_at):+.3f} (sd {np.std(real_at):.3f})")
