// The pre-scan: a bounded walk over the raw bytes of a DICOM file, run before
// DCMTK parses it. DCMTK's parser recurses once per sequence level (a file
// nested a few thousand levels deep overflows the stack), builds one object per
// fragment (a file of millions of empty fragments exhausts memory) and trusts
// RLE segment offsets (lying offsets are read past the fragment). The scan
// bounds all three before DCMTK sees the bytes. It never allocates in
// proportion to a length the file states, and recurses at most
// MS_MAX_SEQUENCE_DEPTH + 1 levels itself.
//
// It accepts what it cannot make sense of (an invalid VR, a length past the
// end): DCMTK then decides, in the supervised worker whose death is a
// rejection, so the scan only has to be right about what it rejects.

#include "bridge_internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const uint32_t kUndefinedLength = 0xFFFFFFFFu;
const uint16_t kItemGroup = 0xFFFE;
const uint16_t kItem = 0xE000;
const uint16_t kItemDelimiter = 0xE00D;
const uint16_t kSequenceDelimiter = 0xE0DD;
/// Largest inflated dataset of a Deflated Explicit VR Little Endian file.
const size_t kMaxInflatedBytes = 512u * 1024 * 1024;

struct Fragment {
    size_t offset;
    size_t length;
};

/// What the walk learns, and why it stopped when it rejects.
struct Scan {
    const uint8_t *data = nullptr;
    size_t size = 0;
    bool little_endian = true;
    std::string reason;
    // Top-level image attributes, as stated.
    long rows = -1, columns = -1, frames = 1, samples = 1, bits_allocated = -1;
    bool encapsulated = false;
    /// A transfer syntax DCMTK's JPEG decoder (dcmjpeg) reads.
    bool jpeg = false;
    size_t offset_table_offset = 0, offset_table_length = 0;
    std::vector<Fragment> fragments;

    uint16_t u16(size_t at) const {
        return little_endian ? uint16_t(data[at] | data[at + 1] << 8) : uint16_t(data[at] << 8 | data[at + 1]);
    }
    uint32_t u32(size_t at) const {
        return little_endian
                   ? uint32_t(data[at]) | uint32_t(data[at + 1]) << 8 | uint32_t(data[at + 2]) << 16 | uint32_t(data[at + 3]) << 24
                   : uint32_t(data[at]) << 24 | uint32_t(data[at + 1]) << 16 | uint32_t(data[at + 2]) << 8 | uint32_t(data[at + 3]);
    }
    bool reject(const std::string &why) {
        reason = why;
        return false;
    }
};

std::string tag_text(uint16_t group, uint16_t element) {
    char text[16];
    snprintf(text, sizeof text, "(%04X,%04X)", group, element);
    return text;
}

/// Whether an explicit VR has a 4-byte length (after 2 reserved bytes), as
/// DCMTK 3.6.7 reads it (DcmVR::setVR): the standard long-form VRs, and any
/// other pair of capital letters (a "future" VR); other bytes are an illegal
/// VR with a 2-byte length.
bool is_long_form_vr(const uint8_t *vr) {
    static const char *const kShortForm[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO",
                                             "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"};
    if (!(vr[0] >= 'A' && vr[0] <= 'Z' && vr[1] >= 'A' && vr[1] <= 'Z')) return false;
    for (const char *name : kShortForm) {
        if (vr[0] == name[0] && vr[1] == name[1]) return false;
    }
    return true;
}

bool is_vr_text(const uint8_t *vr) { return vr[0] >= 'A' && vr[0] <= 'Z' && vr[1] >= 'A' && vr[1] <= 'Z'; }

long integer_string(const uint8_t *bytes, uint32_t length) {
    std::string text(reinterpret_cast<const char *>(bytes), length);
    return strtol(text.c_str(), nullptr, 10);
}

bool walk_dataset(Scan &scan, size_t &position, size_t end, bool explicit_vr, int depth, bool item_with_undefined_length);

/// Walks the items of a sequence whose value starts at `position`. Returns
/// false when the scan rejects the file.
bool walk_sequence(Scan &scan, size_t &position, size_t end, bool explicit_vr, int depth) {
    if (depth > MS_MAX_SEQUENCE_DEPTH) {
        return scan.reject("sequences nested deeper than " + std::to_string(MS_MAX_SEQUENCE_DEPTH) + " levels");
    }
    while (position + 8 <= end) {
        uint16_t group = scan.u16(position), element = scan.u16(position + 2);
        uint32_t length = scan.u32(position + 4);
        position += 8;
        if (group != kItemGroup) return true;  // not a sequence after all: opaque
        if (element == kSequenceDelimiter) return true;
        if (element != kItem) return true;
        if (length == kUndefinedLength) {
            if (!walk_dataset(scan, position, end, explicit_vr, depth, true)) return false;
        } else {
            size_t item_end = length > end - position ? end : position + length;
            size_t inner = position;
            if (!walk_dataset(scan, inner, item_end, explicit_vr, depth, false)) return false;
            position = item_end;
        }
    }
    return true;
}

/// Records the fragments of encapsulated pixel data, bounding their count.
bool walk_fragments(Scan &scan, size_t &position, size_t end) {
    bool first = true;
    while (position + 8 <= end) {
        uint16_t group = scan.u16(position), element = scan.u16(position + 2);
        uint32_t length = scan.u32(position + 4);
        position += 8;
        if (group == kItemGroup && element == kSequenceDelimiter) return true;
        if (group != kItemGroup || element != kItem) {
            return scan.reject("encapsulated pixel data holds " + tag_text(group, element) + " where a fragment item belongs");
        }
        if (length == kUndefinedLength || length > end - position) {
            return scan.reject("a pixel data fragment claims " + std::to_string(length) + " bytes, more than the file holds");
        }
        if (first) {
            scan.offset_table_offset = position;
            scan.offset_table_length = length;
            first = false;
        } else {
            if (scan.fragments.size() >= MS_MAX_FRAGMENTS) {
                return scan.reject("more than " + std::to_string(MS_MAX_FRAGMENTS) + " pixel data fragments");
            }
            scan.fragments.push_back({position, length});
        }
        position += length;
    }
    return true;
}

void record_image_attribute(Scan &scan, uint16_t group, uint16_t element, size_t value, uint32_t length) {
    if (group != 0x0028) return;
    if (element == 0x0008) {
        scan.frames = length > 0 && length < 32 ? integer_string(scan.data + value, length) : 1;
        return;
    }
    if (length != 2) return;
    long number = scan.u16(value);
    switch (element) {
        case 0x0002: scan.samples = number; break;
        case 0x0010: scan.rows = number; break;
        case 0x0011: scan.columns = number; break;
        case 0x0100: scan.bits_allocated = number; break;
        default: break;
    }
}

/// An attribute's header as DCMTK 3.6.7 reads it.
struct ElementHeader {
    uint16_t group = 0, element = 0;
    uint32_t length = 0;
    bool sequence = false;  // explicit VR SQ
    bool unknown = false;   // explicit VR UN
};

/// Reads the header of the attribute at `position` and moves past it; false
/// when the header itself runs past `end`.
bool read_header(Scan &scan, size_t &position, size_t end, bool explicit_vr, ElementHeader &header) {
    size_t start = position;
    header = ElementHeader{scan.u16(start), scan.u16(start + 2)};
    const uint8_t *vr = scan.data + start + 4;
    if (explicit_vr && is_long_form_vr(vr)) {
        if (start + 12 > end) return false;
        header.length = scan.u32(start + 8);
        header.sequence = vr[0] == 'S' && vr[1] == 'Q';
        header.unknown = vr[0] == 'U' && vr[1] == 'N';
        position = start + 12;
        return true;
    }
    header.length = explicit_vr ? scan.u16(start + 6) : scan.u32(start + 4);
    position = start + 8;
    return true;
}

/// Walks the items of a sequence value. An explicit UN one holds Implicit
/// VR Little Endian items (PS3.5 6.2.2).
bool walk_sequence_value(Scan &scan, size_t &position, size_t end, bool explicit_vr, const ElementHeader &header, int depth) {
    bool saved = scan.little_endian;
    if (header.unknown) scan.little_endian = true;
    bool ok = walk_sequence(scan, position, end, explicit_vr && !header.unknown, depth + 1);
    scan.little_endian = saved;
    return ok;
}

/// Walks a value of undefined length: the fragments of encapsulated pixel
/// data, or a sequence.
bool walk_undefined_length(Scan &scan, size_t &position, size_t end, bool explicit_vr, const ElementHeader &header, int depth) {
    bool pixel_data = header.group == 0x7FE0 && header.element == 0x0010;
    if (pixel_data && depth == 0) {
        scan.encapsulated = true;
        return walk_fragments(scan, position, end);
    }
    if (pixel_data) {
        // Nested pixel data (an icon image): bounded like the top level's,
        // but its fragments are not the image's.
        Scan nested;
        nested.data = scan.data;
        nested.size = scan.size;
        nested.little_endian = scan.little_endian;
        return walk_fragments(nested, position, end) || scan.reject(nested.reason);
    }
    return walk_sequence_value(scan, position, end, explicit_vr, header, depth);
}

/// Walks the attributes from `position` to `end` (or to an item delimiter when
/// `item_with_undefined_length`), recursing into sequences.
bool walk_dataset(Scan &scan, size_t &position, size_t end, bool explicit_vr, int depth, bool item_with_undefined_length) {
    while (position + 8 <= end) {
        if (scan.u16(position) == kItemGroup) {
            bool item_end = scan.u16(position + 2) == kItemDelimiter;
            position += 8;
            if (item_end && item_with_undefined_length) return true;
            continue;  // a stray delimiter: DCMTK skips it too
        }
        ElementHeader header;
        if (!read_header(scan, position, end, explicit_vr, header)) return true;
        if (header.length == kUndefinedLength) {
            if (!walk_undefined_length(scan, position, end, explicit_vr, header, depth)) return false;
            continue;
        }
        bool pixel_data = header.group == 0x7FE0 && header.element == 0x0010;
        size_t value_end = header.length > end - position ? end : position + header.length;
        bool looks_like_items = value_end - position >= 8 && scan.u16(position) == kItemGroup && scan.u16(position + 2) == kItem;
        if (header.sequence || (!pixel_data && looks_like_items)) {
            // A defined-length sequence, or a value DCMTK may read as one (an
            // implicit VR sequence, or UN that its dictionary knows as SQ).
            size_t inner = position;
            if (!walk_sequence_value(scan, inner, value_end, explicit_vr, header, depth)) return false;
        } else if (depth == 0 && header.length <= end - position) {
            record_image_attribute(scan, header.group, header.element, position, header.length);
        }
        if (header.length > end - position) return true;  // runs past the end: DCMTK decides
        position = value_end;
    }
    return true;
}

/// Inflates the raw deflate stream of a Deflated Explicit VR Little Endian
/// dataset, up to kMaxInflatedBytes.
bool inflate_dataset(const uint8_t *data, size_t size, std::vector<uint8_t> &out, std::string &reason) {
    for (int window_bits : {-MAX_WBITS, MAX_WBITS}) {  // raw deflate, else zlib framing
        z_stream stream;
        memset(&stream, 0, sizeof stream);
        if (inflateInit2(&stream, window_bits) != Z_OK) break;
        stream.next_in = const_cast<Bytef *>(data);
        stream.avail_in = static_cast<uInt>(size < 0x7FFFFFFF ? size : 0x7FFFFFFF);
        out.clear();
        int status = Z_OK;
        uint8_t chunk[65536];
        while (status == Z_OK) {
            stream.next_out = chunk;
            stream.avail_out = sizeof chunk;
            status = inflate(&stream, Z_NO_FLUSH);
            size_t produced = sizeof chunk - stream.avail_out;
            if (out.size() + produced > kMaxInflatedBytes) {
                inflateEnd(&stream);
                reason = "deflated dataset inflates to more than " + std::to_string(kMaxInflatedBytes) + " bytes";
                return false;
            }
            out.insert(out.end(), chunk, chunk + produced);
            if (status == Z_BUF_ERROR && stream.avail_in == 0) break;
        }
        inflateEnd(&stream);
        if (status == Z_STREAM_END || (status == Z_BUF_ERROR && !out.empty())) return true;
    }
    out.clear();
    return true;  // not inflatable here: DCMTK decides
}

/// Checks the fragments of RLE Lossless pixel data (PS3.5 Annex G): one
/// fragment per frame, each with a valid header (`ms_rle_fragment_problem`).
bool check_rle(Scan &scan) {
    if (scan.fragments.size() != static_cast<size_t>(scan.frames)) {
        return scan.reject("RLE pixel data has " + std::to_string(scan.fragments.size()) + " fragments for " + std::to_string(scan.frames) +
                           " frames (RLE needs one per frame)");
    }
    long bytes_per_sample = scan.bits_allocated <= 8 ? 1 : (scan.bits_allocated + 7) / 8;
    for (size_t index = 0; index < scan.fragments.size(); ++index) {
        const Fragment &fragment = scan.fragments[index];
        char problem[256];
        if (ms_rle_fragment_problem(scan.data + fragment.offset, fragment.length, scan.samples * bytes_per_sample, problem,
                                    sizeof problem) != 0) {
            return scan.reject("RLE frame " + std::to_string(index) + problem);
        }
    }
    return true;
}

/// Checks that encapsulated pixel data can hold the frames it claims: at least
/// one non-empty fragment per frame and an offset table that points at
/// fragment starts.
bool check_fragments(Scan &scan, bool rle) {
    if (scan.frames < 1 || scan.frames > MS_MAX_FRAMES) return true;  // check_pixel_data reports it
    for (size_t index = 0; index < scan.fragments.size(); ++index) {
        if (scan.fragments[index].length == 0) {
            return scan.reject("pixel data fragment " + std::to_string(index + 1) + " is empty");
        }
    }
    if (scan.fragments.size() < static_cast<size_t>(scan.frames)) {
        return scan.reject("compressed pixel data has " + std::to_string(scan.fragments.size()) + " fragments for " +
                           std::to_string(scan.frames) + " frames");
    }
    if (scan.offset_table_length > 0) {
        if (scan.offset_table_length % 4 != 0 || scan.offset_table_length / 4 != static_cast<size_t>(scan.frames)) {
            return scan.reject("Basic Offset Table of " + std::to_string(scan.offset_table_length) + " bytes for " +
                               std::to_string(scan.frames) + " frames");
        }
        // Offsets count from the first fragment's item tag.
        size_t base = scan.fragments[0].offset - 8;
        size_t next_fragment = 0;
        for (long frame = 0; frame < scan.frames; ++frame) {
            uint32_t offset = scan.u32(scan.offset_table_offset + 4 * frame);
            while (next_fragment < scan.fragments.size() && scan.fragments[next_fragment].offset - 8 - base < offset) {
                ++next_fragment;
            }
            if (next_fragment == scan.fragments.size() || scan.fragments[next_fragment].offset - 8 - base != offset) {
                return scan.reject("Basic Offset Table entry " + std::to_string(frame) + " (" + std::to_string(offset) +
                                   ") is not the start of a fragment");
            }
            ++next_fragment;
        }
    }
    if (scan.jpeg) {
        for (size_t index = 0; index < scan.fragments.size(); ++index) {
            char problem[256];
            const uint8_t *fragment = scan.data + scan.fragments[index].offset;
            if (ms_jpeg_fragment_problem(fragment, scan.fragments[index].length, problem, sizeof problem) != 0) {
                return scan.reject("pixel data fragment " + std::to_string(index + 1) + " has " + problem);
            }
        }
    }
    return rle ? check_rle(scan) : true;
}

bool scan_bytes(Scan &scan) {
    size_t position = 0;
    bool explicit_vr = true;
    std::string syntax;
    if (scan.size >= 132 && memcmp(scan.data + 128, "DICM", 4) == 0) position = 132;
    // The meta header (group 0002) is always Explicit VR Little Endian.
    while (position + 8 <= scan.size && scan.data[position] == 0x02 && scan.data[position + 1] == 0 &&
           is_vr_text(scan.data + position + 4)) {
        uint16_t element = scan.u16(position + 2);
        bool long_form = is_long_form_vr(scan.data + position + 4);
        if (long_form && position + 12 > scan.size) break;
        uint32_t length = long_form ? scan.u32(position + 8) : scan.u16(position + 6);
        size_t value = position + (long_form ? 12 : 8);
        if (length == kUndefinedLength || length > scan.size - value) break;
        if (element == 0x0010) {
            syntax.assign(reinterpret_cast<const char *>(scan.data + value), length);
            while (!syntax.empty() && (syntax.back() == '\0' || syntax.back() == ' ')) syntax.pop_back();
        }
        position = value + length;
    }
    if (syntax == "1.2.840.10008.1.2") {
        explicit_vr = false;
    } else if (syntax == "1.2.840.10008.1.2.2") {
        scan.little_endian = false;
    } else if (syntax.empty()) {
        // A bare dataset: explicit when a VR follows the first tag, as DCMTK guesses.
        explicit_vr = position + 6 <= scan.size && is_vr_text(scan.data + position + 4);
        if (position + 2 <= scan.size && scan.data[position] == 0 && scan.data[position + 1] != 0) {
            scan.little_endian = false;
        }
    }
    bool rle = syntax == "1.2.840.10008.1.2.5";
    scan.jpeg = ms_is_dcmjpeg_syntax(syntax.c_str());
    if (syntax == "1.2.840.10008.1.2.1.99") {
        std::vector<uint8_t> inflated;
        if (!inflate_dataset(scan.data + position, scan.size - position, inflated, scan.reason)) {
            return false;
        }
        if (inflated.empty()) return true;
        Scan inner;
        inner.data = inflated.data();
        inner.size = inflated.size();
        size_t start = 0;
        if (!walk_dataset(inner, start, inner.size, true, 0, false)) {
            scan.reason = inner.reason;
            return false;
        }
        return true;  // deflate is never encapsulated
    }
    if (!walk_dataset(scan, position, scan.size, explicit_vr, 0, false)) return false;
    return scan.encapsulated ? check_fragments(scan, rle) : true;
}

}  // namespace

extern "C" int ms_rle_fragment_problem(const uint8_t *fragment, size_t length, long expected_segments, char *problem,
                                       size_t problem_capacity) {
    if (length < 64) {
        copy_message(" is shorter than its 64-byte header", problem, problem_capacity);
        return -1;
    }
    auto le32 = [&](int at) {
        return uint32_t(fragment[at]) | uint32_t(fragment[at + 1]) << 8 | uint32_t(fragment[at + 2]) << 16 |
               uint32_t(fragment[at + 3]) << 24;
    };
    uint32_t segments = le32(0);
    if (segments < 1 || segments > 15 || long(segments) != expected_segments) {
        copy_message(" has " + std::to_string(segments) + " segments, " + std::to_string(expected_segments) + " expected", problem,
                     problem_capacity);
        return -1;
    }
    uint32_t previous = 0;
    for (uint32_t segment = 0; segment < segments; ++segment) {
        uint32_t offset = le32(4 + 4 * segment);
        bool valid = segment == 0 ? offset == 64 : offset > previous;
        if (!valid || offset >= length) {
            copy_message(": segment " + std::to_string(segment) + " offset " + std::to_string(offset) + " lies outside the fragment of " +
                             std::to_string(length) + " bytes",
                         problem, problem_capacity);
            return -1;
        }
        previous = offset;
    }
    return 0;
}

extern "C" int ms_is_dcmjpeg_syntax(const char *uid) {
    // 1.2.840.10008.1.2.4.50 to .70: the JPEG processes dcmjpeg decodes
    // (.80 and up are JPEG-LS, JPEG 2000 and video).
    const char *prefix = "1.2.840.10008.1.2.4.";
    if (strncmp(uid, prefix, strlen(prefix)) != 0) return 0;
    long process = strtol(uid + strlen(prefix), nullptr, 10);
    return process >= 50 && process <= 70;
}

extern "C" int ms_jpeg_fragment_problem(const uint8_t *data, size_t length, char *problem, size_t problem_capacity) {
    // The walk of DJCodecDecoder::scanJpegDataForBitDepth (DCMTK 3.6.7), step for
    // step: it returns at the first frame header or invalid marker, and never
    // moves past a TEM marker (0xFF01) - DCMTK bug #1190, fixed after 3.6.7.
    auto be16 = [&](size_t at) { return static_cast<unsigned>(data[at] << 8 | data[at + 1]); };
    size_t offset = 0;
    while (offset + 4 < length) {
        unsigned marker = be16(offset);
        bool frame_header = (marker >= 0xffc0 && marker <= 0xffcf) && marker != 0xffc4 && marker != 0xffc8 && marker != 0xffcc;
        if (frame_header) return 0;
        if (marker == 0xffc4 || marker == 0xffc8 || marker == 0xffcc || (marker >= 0xffda && marker <= 0xfffe)) {
            offset += be16(offset + 2) + 2;
        } else if (marker >= 0xffd0 && marker <= 0xffd9) {
            offset += 2;
        } else if (marker == 0xffff) {
            offset += 1;
        } else if (marker == 0xff01) {
            copy_message(
                "a JPEG TEM marker (0xFF01) before the frame header, on which DCMTK 3.6.7 never "
                "returns (its bug #1190)",
                problem, problem_capacity);
            return -1;
        } else if (data[offset] == 0xff && data[offset + 1] > 2 && data[offset + 1] <= 0xbf) {
            offset += 2;
        } else {
            return 0;  // DCMTK stops here too
        }
    }
    return 0;
}

extern "C" int ms_dicom_prescan_bytes(const uint8_t *bytes, size_t count, char *reason, size_t reason_capacity) {
    Scan scan;
    scan.data = bytes;
    scan.size = count;
    if (scan_bytes(scan)) return 0;
    copy_message(scan.reason, reason, reason_capacity);
    return -1;
}

extern "C" int ms_dicom_prescan(const char *path, char *reason, size_t reason_capacity) {
    int descriptor = open(path, O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) {
        copy_message(std::string("cannot open: ") + strerror(errno), reason, reason_capacity);
        return -1;
    }
    struct stat status;
    if (fstat(descriptor, &status) != 0) {
        copy_message(std::string("cannot read: ") + strerror(errno), reason, reason_capacity);
        close(descriptor);
        return -1;
    }
    size_t size = static_cast<size_t>(status.st_size);
    if (size == 0) {
        close(descriptor);
        return 0;  // DCMTK rejects an empty file with its own reason
    }
    void *mapped = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, descriptor, 0);
    close(descriptor);
    if (mapped == MAP_FAILED) {
        copy_message(std::string("cannot read: ") + strerror(errno), reason, reason_capacity);
        return -1;
    }
    int result = ms_dicom_prescan_bytes(static_cast<const uint8_t *>(mapped), size, reason, reason_capacity);
    munmap(mapped, size);
    return result;
}
