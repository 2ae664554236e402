// Declarations the bridge's C++ files share and Swift never sees (they are
// not under include/, so the module map leaves them out): the pre-scan's entry
// points, the JPEG 2000 decoder, and copying text into a caller's C buffer.
#pragma once

#include "ms_dicom_file.h"

#include <stddef.h>
#include <stdint.h>

#include <cstring>
#include <string>

extern "C" {

/// The pre-scan: walks the raw bytes of a file before DCMTK parses them and
/// rejects what would exhaust DCMTK's stack or memory or make its decoders
/// read out of bounds: sequences nested deeper than MS_MAX_SEQUENCE_DEPTH,
/// more than MS_MAX_FRAGMENTS fragments, empty fragments, fewer fragments than
/// frames, an offset table that points between fragments, RLE headers whose
/// segment offsets lie, JPEG fragments on which DCMTK's marker scan never ends. Returns 0 when the file may be parsed, -1 with the
/// reason otherwise. `ms_dicom_open` runs it on every file.
int ms_dicom_prescan(const char *path, char *reason, size_t reason_capacity);

/// Checks one RLE Lossless fragment's 64-byte header (PS3.5 Annex G): a
/// segment count of `expected_segments` (1 to 15), the first segment at 64,
/// each next one further on, all inside the fragment. Returns 0, or -1 with
/// the problem (a phrase that follows "RLE frame N") in `problem`. DCMTK's RLE
/// decoder trusts these offsets and reads past the fragment when they lie.
int ms_rle_fragment_problem(const uint8_t *fragment, size_t length, long expected_segments, char *problem, size_t problem_capacity);

/// Whether `uid` is a JPEG transfer syntax that DCMTK's dcmjpeg decodes
/// (1.2.840.10008.1.2.4.50 to .70).
int ms_is_dcmjpeg_syntax(const char *uid);

/// Walks the markers of one JPEG fragment as DCMTK 3.6.7's
/// `DJCodecDecoder::scanJpegDataForBitDepth` does before decoding, and returns
/// -1 with the problem when that walk would never end (a TEM marker, 0xFF01,
/// before the frame header: DCMTK bug #1190); 0 otherwise.
int ms_jpeg_fragment_problem(const uint8_t *data, size_t length, char *problem, size_t problem_capacity);

/// The pre-scan over `count` bytes in memory (the fuzzing harness's entry).
int ms_dicom_prescan_bytes(const uint8_t *bytes, size_t count, char *reason, size_t reason_capacity);

}  // extern "C"

/// Registers the OpenJPEG-based JPEG 2000 decoder with DCMTK's codec list.
/// Called once, from ms_dicom_initialize, before any thread decodes.
void ms_register_jpeg2000_decoder();

/// Why the last JPEG 2000 frame decoded on the calling thread failed, or "";
/// taking it clears it, so that it is never reported for a later failure.
std::string ms_jpeg2000_take_error();

/// Copies `message` into the caller's C buffer of `capacity` bytes, cut to fit
/// and always terminated; nothing is written when there is no buffer.
inline void copy_message(const std::string &message, char *buffer, size_t capacity) {
    if (buffer == nullptr || capacity == 0) return;
    size_t length = message.size() < capacity - 1 ? message.size() : capacity - 1;
    memcpy(buffer, message.data(), length);
    buffer[length] = '\0';
}
