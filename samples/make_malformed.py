#!/usr/bin/env python3
"""Writes the malformed-input corpus: variants of real sample files that a
hostile or broken sender could produce, for the import test of docs/catalog.md.

    python3 samples/make_malformed.py OUT_DIR            # writes the variants
    python3 samples/make_malformed.py OUT_DIR --manifest # prints "sha256  name" lines

Deterministic (fixed seeds, standard library only): the same samples give the
same bytes, which samples/malformed.sha256 records. Every variant gets its own
SOP Instance UID, so that each one is either catalogued or rejected on its own
and never a duplicate of another.

Categories (the prefix of each file name): truncations, byte flips, huge
lengths, extreme image attributes, inconsistent photometrics, meta header
lies, nesting depths up to 100,000, corrupt RLE and JPEG fragments, fragment
counts up to 1,000,001, multi-frame files whose later frames are empty.
"""

import hashlib
import pathlib
import random
import struct
import sys

SAMPLES = pathlib.Path(__file__).resolve().parent / "data" / "pydicom-data"
BASES = [
    "emri_small.dcm",                      # Explicit VR LE, 10 frames, 16-bit MR
    "emri_small_big_endian.dcm",           # Explicit VR BE
    "emri_small_RLE.dcm",                  # RLE, 10 frames
    "emri_small_jpeg_ls_lossless.dcm",     # JPEG-LS, 10 frames
    "JPGLosslessP14SV1_1s_1f_8b.dcm",      # JPEG lossless, US
    "OBXXXX1A_rle_2frame.dcm",             # RLE palette colour, 2 frames
    "SC_rgb_2frame.dcm",                   # native RGB, 2 frames
    "liver.dcm",                           # 1-bit segmentation, 3 frames
    "gdcm-US-ALOKA-16.dcm",                # Implicit VR LE, palette US
]
IMPLICIT, EXPLICIT_LE, EXPLICIT_BE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
UNDEFINED = 0xFFFFFFFF
UID_ROOT = "1.2.826.0.1.3680043.10.543.14"


class Element:
    """One top-level attribute: its tag, VR (None in implicit VR), header and value bytes."""

    def __init__(self, tag, vr, value, undefined=False):
        self.tag, self.vr, self.value, self.undefined = tag, vr, value, undefined


class Dataset:
    """A Part 10 file split into preamble, meta elements and top-level dataset elements."""

    def __init__(self, data):
        self.preamble = data[:132]
        position = 132
        self.meta = []
        while data[position:position + 2] == b"\x02\x00":
            element, position = read_element(data, position, explicit=True, little=True)
            self.meta.append(element)
        syntax = self.syntax()
        self.explicit = syntax != IMPLICIT
        self.little = syntax != EXPLICIT_BE
        self.elements = []
        while position < len(data):
            element, position = read_element(data, position, self.explicit, self.little)
            self.elements.append(element)

    def syntax(self):
        for element in self.meta:
            if element.tag == (0x0002, 0x0010):
                return element.value.rstrip(b"\0 ").decode()
        return IMPLICIT

    def find(self, tag):
        return next((e for e in self.elements if e.tag == tag), None)

    def set(self, tag, value, vr=None):
        element = self.find(tag)
        if element is None:
            element = Element(tag, vr, b"")
            self.elements.append(element)
            self.elements.sort(key=lambda e: e.tag)
        element.value, element.undefined = value, False

    def encode(self, length_overrides=None):
        meta = [e for e in self.meta if e.tag != (0x0002, 0x0000)]
        meta_bytes = b"".join(write_element(e, True, True) for e in meta)
        group_length = Element((0x0002, 0x0000), b"UL", struct.pack("<I", len(meta_bytes)))
        body = []
        for element in self.elements:
            body.append(write_element(element, self.explicit, self.little, (length_overrides or {}).get(id(element))))
        return self.preamble + write_element(group_length, True, True) + meta_bytes + b"".join(body)


def read_element(data, position, explicit, little):
    order = "<" if little else ">"
    group, number = struct.unpack_from(order + "HH", data, position)
    vr = None
    if explicit and group != 0xFFFE:
        vr = data[position + 4:position + 6]
        if vr in LONG_VRS:
            (length,) = struct.unpack_from(order + "I", data, position + 8)
            start = position + 12
        else:
            (length,) = struct.unpack_from(order + "H", data, position + 6)
            start = position + 8
    else:
        (length,) = struct.unpack_from(order + "I", data, position + 4)
        start = position + 8
    if length == UNDEFINED:
        end = skip_sequence(data, start, explicit, little)
        return Element((group, number), vr, data[start:end], undefined=True), end
    return Element((group, number), vr, data[start:start + length]), start + length


def skip_sequence(data, position, explicit, little):
    """The end of an undefined-length sequence or pixel data (after its delimiter)."""
    order = "<" if little else ">"
    while position + 8 <= len(data):
        group, number, length = struct.unpack_from(order + "HHI", data, position)
        position += 8
        if (group, number) == (0xFFFE, 0xE0DD):
            return position
        if length != UNDEFINED:
            position += length
            continue
        while position + 8 <= len(data):  # an undefined-length item
            if struct.unpack_from(order + "HH", data, position) == (0xFFFE, 0xE00D):
                position += 8
                break
            _, position = read_element(data, position, explicit, little)
    return len(data)


def write_element(element, explicit, little, length=None):
    order = "<" if little else ">"
    value = element.value
    if length is None:
        length = UNDEFINED if element.undefined else len(value)
    header = struct.pack(order + "HH", *element.tag)
    if explicit and element.vr is not None and element.tag[0] != 0xFFFE:
        if element.vr in LONG_VRS:
            header += element.vr + b"\0\0" + struct.pack(order + "I", length)
        else:
            header += element.vr + struct.pack(order + "H", min(length, 0xFFFF))
    else:
        header += struct.pack(order + "I", length)
    return header + value


def text(value, pad=b" "):
    data = value.encode()
    return data + pad if len(data) % 2 else data


def fragments(element):
    """Offset table and fragments of encapsulated pixel data (always little endian)."""
    items, position, data = [], 0, element.value
    while position + 8 <= len(data):
        group, number, length = struct.unpack_from("<HHI", data, position)
        if number == 0xE0DD:
            break
        items.append(data[position + 8:position + 8 + length])
        position += 8 + length
    return items[0], items[1:]


def encapsulate(offset_table, frames):
    parts = [struct.pack("<HHI", 0xFFFE, 0xE000, len(offset_table)) + offset_table]
    parts += [struct.pack("<HHI", 0xFFFE, 0xE000, len(f)) + f for f in frames]
    return b"".join(parts) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def nested_sequence(depth, little):
    """(0040,0275) nested `depth` levels deep, each item holding the next."""
    order = "<" if little else ">"
    opening = struct.pack(order + "HH", 0x0040, 0x0275) + b"SQ\0\0" + struct.pack(order + "I", UNDEFINED)
    item = struct.pack(order + "HHI", 0xFFFE, 0xE000, UNDEFINED)
    closing = struct.pack(order + "HHI", 0xFFFE, 0xE00D, 0) + struct.pack(order + "HHI", 0xFFFE, 0xE0DD, 0)
    return (opening + item) * depth + closing * depth


class Corpus:
    def __init__(self, out):
        self.out, self.names = out, []

    def add(self, name, dataset, uid_index, mutate):
        """Writes `dataset` after `mutate(dataset)` returns its bytes (or None to use encode())."""
        dataset.set((0x0008, 0x0018), text(f"{UID_ROOT}.{uid_index}", b"\0"))
        data = mutate(dataset)
        if data is None:
            data = dataset.encode()
        if self.out is not None:
            (self.out / name).write_bytes(data)
        self.names.append((name, hashlib.sha256(data).hexdigest()))


def variants(corpus, base_name, base_index):
    data = (SAMPLES / base_name).read_bytes()
    stem = base_name.removesuffix(".dcm")
    rng = random.Random(f"{base_name}-{base_index}")
    count = [0]

    def add(kind, mutate):
        count[0] += 1
        index = base_index * 1000 + count[0]
        corpus.add(f"{kind}-{stem}-{count[0]:03d}.dcm", Dataset(data), index, mutate)

    encoded_size = len(Dataset(data).encode())
    # Truncations: anywhere after the preamble, and the last few bytes.
    for fraction in (0.04, 0.08, 0.15, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, 0.99):
        cut = max(140, int(encoded_size * fraction))
        add("truncated", lambda d, cut=cut: d.encode()[:cut])
    for drop in (1, 2, 7, 64):
        add("truncated", lambda d, drop=drop: d.encode()[:-drop])
    # Byte flips, never in "DICM".
    for _ in range(30):
        flips = [(rng.randrange(132, encoded_size), rng.randrange(1, 256)) for _ in range(rng.randrange(1, 9))]

        def flip(d, flips=flips):
            raw = bytearray(d.encode())
            for at, mask in flips:
                if at < len(raw):
                    raw[at] ^= mask
            return bytes(raw)
        add("flipped", flip)
    # Huge and lying lengths on chosen attributes.
    probe = Dataset(data)
    chosen = rng.sample(range(len(probe.elements)), min(8, len(probe.elements)))
    for position in chosen:
        for length in (0xFFFFFFF0, 0x7FFFFFFF, encoded_size * 2, 0xFFFE):
            def lie(d, position=position, length=length):
                target = d.elements[position]
                if target.tag == (0x0008, 0x0018):
                    target = d.elements[(position + 1) % len(d.elements)]
                return d.encode({id(target): length})
            add("length", lie)
    # Extreme image attributes.
    order = "<" if probe.little else ">"
    for tag, values in (((0x0028, 0x0010), (0, 1, 65535)), ((0x0028, 0x0011), (0, 1, 65535)),
                        ((0x0028, 0x0100), (0, 1, 7, 12, 64, 65535)), ((0x0028, 0x0002), (0, 2, 3, 4, 65535))):
        for value in values:
            add("attribute", lambda d, tag=tag, value=value: d.set(tag, struct.pack(order + "H", value), b"US"))
    for frames in ("0", "-1", "3", "11", "100001", "99999999", "2147483648", "x"):
        add("attribute", lambda d, frames=frames: d.set((0x0028, 0x0008), text(frames), b"IS"))
    # Inconsistent photometric interpretations.
    for photometric in ("RGB", "PALETTE COLOR", "YBR_FULL_422", "MONOCHROME1", "HSV", ""):
        add("photometric", lambda d, p=photometric: d.set((0x0028, 0x0004), text(p), b"CS"))
    # The meta header lies about the transfer syntax.
    for syntax in (IMPLICIT, EXPLICIT_LE, EXPLICIT_BE, "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.50",
                   "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5", "1.2.3.4"):
        def lie_meta(d, syntax=syntax):
            for element in d.meta:
                if element.tag == (0x0002, 0x0010):
                    element.value = text(syntax, b"\0")
        add("meta", lie_meta)
    # Nesting: around the limit of 16 and far beyond.
    if probe.explicit:
        depths = (15, 16, 17, 64, 5640) + ((100000,) if base_index == 0 else ())
        for depth in depths:
            def nest(d, depth=depth):
                raw = d.encode()
                pixel = d.find((0x7FE0, 0x0010))
                cut = len(raw) - len(write_element(pixel, d.explicit, d.little))
                return raw[:cut] + nested_sequence(depth, d.little) + raw[cut:]
            add("nested", nest)
    pixel = probe.find((0x7FE0, 0x0010))
    if pixel is not None and pixel.undefined:
        encapsulated_variants(add, probe, base_index)


def encapsulated_variants(add, probe, base_index):
    table, frames = fragments(probe.find((0x7FE0, 0x0010)))
    rle = probe.syntax() == "1.2.840.10008.1.2.5"

    def rebuild(new_table, new_frames):
        def mutate(d):
            d.find((0x7FE0, 0x0010)).value = encapsulate(new_table, new_frames)
            d.find((0x7FE0, 0x0010)).undefined = True
        return mutate

    add("fragments", rebuild(table, frames[:-1]))                           # a frame's fragment missing
    add("fragments", rebuild(table, frames[:1] + [b""] + frames[1:]))        # an empty fragment
    add("fragments", rebuild(table, frames + [b""] * 1000))                  # 1,000 empty fragments
    add("fragments", rebuild(table, [b""] * 1000 + frames))
    add("fragments", rebuild(table, frames + [b"\0\0"] * 100000))            # 100,000 tiny fragments
    if base_index == 2:
        add("fragments", rebuild(table, frames + [b""] * 1000001))          # over the limit of 1,000,000
    add("fragments", rebuild(struct.pack("<I", 0) * 3, frames))              # offset table of the wrong size
    add("fragments", rebuild(struct.pack("<I", 7) * len(frames), frames))    # offsets between fragments
    add("fragments", rebuild(table, [f[: len(f) // 2] for f in frames]))     # every fragment cut in half
    add("fragments", rebuild(table, [f[:1] for f in frames]))                # one byte each
    # Later frames empty or garbage: only frame 0 is intact.
    if len(frames) > 1:
        add("later-frames", rebuild(table, frames[:1] + [b"\xff\xd8"] * (len(frames) - 1)))
        add("later-frames", rebuild(table, frames[:1] + [bytes(64)] * (len(frames) - 1)))
        add("later-frames", rebuild(table, frames[:1] + [frames[0][:32]] * (len(frames) - 1)))
    rng = random.Random(f"fragments-{base_index}")
    for _ in range(12):                                                       # corrupt compressed bytes
        def corrupt(frame):
            raw = bytearray(frame)
            for _ in range(rng.randrange(1, 6)):
                raw[rng.randrange(len(raw))] ^= rng.randrange(1, 256)
            return bytes(raw)
        add("fragments", rebuild(table, [corrupt(f) for f in frames]))
    if rle:
        def header(frame, count=None, offsets=None):
            count_value, old = struct.unpack_from("<I15I", frame)[0], list(struct.unpack_from("<15I", frame, 4))
            new = offsets if offsets is not None else old
            return struct.pack("<I15I", count if count is not None else count_value, *new) + frame[64:]
        add("rle", rebuild(table, [header(f, count=0) for f in frames]))
        add("rle", rebuild(table, [header(f, count=16) for f in frames]))
        add("rle", rebuild(table, [header(f, count=0xFFFFFFFF) for f in frames]))
        add("rle", rebuild(table, [header(f, offsets=[64] + [len(f) + 4096] * 14) for f in frames]))
        add("rle", rebuild(table, [header(f, offsets=[0] * 15) for f in frames]))
        add("rle", rebuild(table, [header(f, offsets=[64, 64] + [0] * 13) for f in frames]))
        add("rle", rebuild(table, [header(f, offsets=[len(f) - 1] + [0] * 14) for f in frames]))
        add("rle", rebuild(table, [f[:64] for f in frames]))                 # headers only
        add("rle", rebuild(table, [f[:40] for f in frames]))                 # shorter than a header


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out = pathlib.Path(argv[1])
    manifest = "--manifest" in argv
    if not manifest:
        out.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(None if manifest else out)
    for index, name in enumerate(BASES):
        variants(corpus, name, index)
    if manifest:
        for name, digest in corpus.names:
            print(f"{digest}  {name}")
    else:
        print(f"{len(corpus.names)} variants in {out}")


if __name__ == "__main__":
    main(sys.argv)
