/// Opening a DICOM file and reading its attributes, within the limits the
/// bridge checks before DCMTK allocates.
///
/// The bridge is a small C API over DCMTK, so that Swift never sees C++; its
/// public headers (include/ms_dicom_*.h) are split by concern. Every function
/// that can fail returns a status (0 = success) and writes a human-readable
/// reason into the caller's `error` buffer. Handles are owned by the Swift
/// `DicomFile` class, which calls `ms_dicom_close` in `deinit`.
#ifndef MS_DICOM_FILE_H
#define MS_DICOM_FILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opened DICOM file: its dataset is parsed, large values (pixel data) stay
/// on disk until a frame is decoded.
typedef struct ms_dicom_file ms_dicom_file;

/// Limits checked before any pixel memory is allocated.
enum {
    /// Largest decoded frame in bytes (rows x columns x samples x bytes per sample).
    MS_MAX_FRAME_BYTES = 256 * 1024 * 1024,
    /// Largest Number of Frames accepted.
    MS_MAX_FRAMES = 100000,
    /// Deepest nesting of sequences accepted.
    MS_MAX_SEQUENCE_DEPTH = 16,
    /// Most fragments of encapsulated pixel data accepted.
    MS_MAX_FRAGMENTS = 1000000
};

/// Pre-scans (`ms_dicom_prescan`), opens and parses `path` (with or without
/// preamble and meta header). Values longer than 4 KiB are not read until
/// needed. Returns NULL and a reason in `error` when the file is not readable
/// DICOM or the pre-scan rejects it.
ms_dicom_file *ms_dicom_open(const char *path, char *error, size_t error_capacity);

/// Frees the handle and everything DCMTK allocated for it.
void ms_dicom_close(ms_dicom_file *file);

/// Copies the value of attribute (group, element) as text into `buffer`
/// (multiple values joined by a backslash, as DICOM stores them). Attributes of
/// group 0002 are read from the meta header. Returns the full length of the
/// value (which may exceed `capacity`, then call again with a larger buffer),
/// or -1 when the attribute is absent.
long ms_dicom_get_string(ms_dicom_file *file, uint16_t group, uint16_t element, char *buffer, size_t capacity);

/// Like ms_dicom_get_string, for the attribute at `path` (DCMTK's path
/// syntax, see ms_dicom_set_path_string), such as "(0018,6011)[0].(0018,6018)".
/// Returns -1 when the path leads to no attribute; creates nothing.
long ms_dicom_get_path_string(ms_dicom_file *file, const char *path, char *buffer, size_t capacity);

/// The number of items of the sequence at `path`, or -1 when there is no
/// sequence there.
long ms_dicom_count_items(ms_dicom_file *file, const char *path);

/// The transfer syntax the dataset was read in (UID and DCMTK's name).
void ms_dicom_transfer_syntax(ms_dicom_file *file, char *uid, size_t uid_capacity, char *name, size_t name_capacity);

#ifdef __cplusplus
}
#endif

#endif
