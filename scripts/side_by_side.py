#!/usr/bin/python3
"""The first ROWS x COLUMNS tiles of several sample grids, side by side.

    scripts/side_by_side.py OUT.png ROWS COLUMNS GRID.png [GRID.png ...]

Each GRID.png is a `samples/step-N.png` (or `training-frames.png`) of a model
folder: 64 x 64 tiles with 2-pixel grey gaps, 8 per row. The crops are placed
left to right in the order given, 8 pixels apart, on the grids' grey. Used for
the ablation figure of docs/training.md (python3-numpy only: no imaging library).
"""
import struct
import sys
import zlib

import numpy as np

TILE, GAP, SPACE = 64, 2, 8


def read_png(path, rows_wanted):
    """The first `rows_wanted` rows of an 8-bit grayscale or RGB PNG (non-interlaced, any row filters)."""
    data = open(path, "rb").read()
    position, compressed = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (0, 2), f"{path}: only 8-bit gray or RGB PNGs"
        elif kind == b"IDAT":
            compressed += body
    channels = 1 if colour == 0 else 3
    raw, stride = zlib.decompress(compressed), width * channels
    rows, previous = [], np.zeros(stride, np.int32)
    for y in range(min(height, rows_wanted)):
        start = y * (stride + 1)
        method = raw[start]
        line = np.frombuffer(raw[start + 1 : start + 1 + stride], np.uint8).astype(np.int32)
        current = np.zeros(stride, np.int32)
        for x in range(stride):
            left = current[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if method == 0:
                predictor = 0
            elif method == 1:
                predictor = left
            elif method == 2:
                predictor = up
            elif method == 3:
                predictor = (left + up) // 2
            else:
                estimate = left + up - corner
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
                predictor = (left, up, corner)[distances.index(min(distances))]
            current[x] = (line[x] + predictor) & 255
        rows.append(current)
        previous = current
    image = np.array(rows, np.uint8).reshape(len(rows), width, channels)
    return image[:, :, 0]


def write_png(path, image):
    height, width = image.shape
    raw = b"".join(b"\0" + image[y].tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


def main():
    out, rows, columns, grids = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    height = rows * TILE + (rows + 1) * GAP
    width = columns * TILE + (columns + 1) * GAP
    crops = [read_png(path, height)[:, :width] for path in grids]
    grey = crops[0][0, 0]
    canvas = np.full((height, len(crops) * width + (len(crops) - 1) * SPACE), grey, np.uint8)
    for index, crop in enumerate(crops):
        canvas[:, index * (width + SPACE) : index * (width + SPACE) + width] = crop
    write_png(out, canvas)


if __name__ == "__main__":
    main()
