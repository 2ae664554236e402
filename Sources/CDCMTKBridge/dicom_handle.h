// What an opened ms_dicom_file is on the DCMTK side, and the helpers that the
// bridge's files reading, checking, decoding, writing and hashing it share.
// Private to the bridge, like bridge_internal.h.
#pragma once

#include "ms_dicom_file.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include <string>

struct ms_dicom_file {
    DcmFileFormat format;
    std::string path;
};

/// The integer value of top-level attribute `key`, or `fallback` when it is
/// absent, empty or does not start with a number.
long long_value(DcmItem *item, const DcmTagKey &key, long fallback);

/// The image attributes that size the pixel data.
struct ImageGeometry {
    unsigned long rows, columns, frames, samples, bits_allocated, bits_stored;
    std::string photometric;
};

/// The image attributes of `dataset` (Number of Frames 1, Samples per Pixel 1
/// and Bits Stored = Bits Allocated when absent, 0 for the others).
ImageGeometry geometry(DcmDataset *dataset);

/// Decoded frames are always at least one byte per sample.
unsigned long long decoded_bytes_per_sample(const ImageGeometry &g);

/// Pre-scans `path` and loads it into `format` within the limits (values over
/// `kLazyValueThreshold`, dicom_read.cpp, stay on disk until read). Returns false with the reason.
bool load_within_limits(const char *path, DcmFileFormat &format, char *error, size_t error_capacity);
