/// SHA-256 digests through OpenSSL (which DCMTK already links): of a file, of
/// a copy as it is made, of bytes in memory, and of a DICOM dataset in one
/// canonical encoding.
#ifndef MS_DICOM_DIGEST_H
#define MS_DICOM_DIGEST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// SHA-256 of a whole file, as 64 lowercase hexadecimal digits plus NUL in
/// `hex` (capacity at least 65). Returns 0, or -1 with the reason.
int ms_sha256_file(const char *path, char *hex, char *error, size_t error_capacity);

/// Copies `source` into a new file `destination` (created owner-only, never
/// overwriting) and computes the SHA-256 of the bytes copied, in one read of
/// the source: what is stored is what is hashed, even if the source changes
/// meanwhile. Writes 64 hexadecimal digits and a NUL into `hex` and the byte
/// count into `size`. Returns 0, or -1 with the reason (the destination is
/// then removed).
int ms_copy_with_sha256(const char *source, const char *destination, char *hex, long long *size, char *error, size_t error_capacity);

/// SHA-256 of `count` bytes in memory, as 64 lowercase hexadecimal digits
/// and a NUL into `hex` (65 bytes).
void ms_sha256_bytes(const void *bytes, size_t count, char *hex);

/// SHA-256 of the dataset of the DICOM file at `path`, without its File Meta
/// Information (group 0002), in one canonical encoding: every element with an
/// explicit length, no group lengths, no trailing padding, Implicit VR Little
/// Endian (so that the OB or OW a writer chose does not count) unless the
/// pixel data are encapsulated (then the file's own transfer syntax). Two
/// files that differ only in what a writer or receiver chooses (meta header,
/// implicit or explicit VR, byte order, length encoding) give the same digest.
/// Loads within the limits `ms_dicom_open` applies. Writes 64 hexadecimal
/// digits and a NUL into `hex`. Returns 0, or -1 with the reason.
int ms_dataset_sha256(const char *path, char *hex, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
