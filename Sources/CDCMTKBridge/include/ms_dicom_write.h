/// Creating a dataset, setting its attributes and pixel data, and saving it as
/// a DICOM Part 10 file (the synthetic DICOM writer's calls).
#ifndef MS_DICOM_WRITE_H
#define MS_DICOM_WRITE_H

#include "ms_dicom_file.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Sets attribute (group, element) of the dataset to `value` (multiple
/// values separated by backslashes), inserting it when absent. `vr` names the
/// value representation ("CS", "UI", ...) for attributes DCMTK's dictionary
/// does not know; NULL uses the dictionary's. Returns 0, or -1 with the reason.
int ms_dicom_set_string(ms_dicom_file *file, uint16_t group, uint16_t element, const char *vr, const char *value, char *error,
                        size_t error_capacity);

/// A new, empty dataset to fill with `ms_dicom_set_*` and write with
/// `ms_dicom_save` (in Explicit VR Little Endian). Freed by `ms_dicom_close`.
ms_dicom_file *ms_dicom_create(void);

/// Sets the attribute at `path` to `value`, creating sequences, items and the
/// attribute as needed. `path` is DCMTK's path syntax: tags joined by dots,
/// with an item index after each sequence, for example
/// "(0018,A001)[0].(0040,A170)[0].(0008,0100)". The attributes take their VR
/// from DCMTK's dictionary. Returns 0, or -1 with the reason.
int ms_dicom_set_path_string(ms_dicom_file *file, const char *path, const char *value, char *error, size_t error_capacity);

/// Sets Pixel Data (7FE0,0010) to `count` bytes of native 8-bit samples (VR OB).
/// Returns 0, or -1 with the reason.
int ms_dicom_set_pixel_data_8bit(ms_dicom_file *file, const uint8_t *pixels, size_t count, char *error, size_t error_capacity);

/// Writes the file to `path` as a DICOM Part 10 file in its original transfer
/// syntax (Explicit VR Little Endian for a dataset made by `ms_dicom_create`),
/// updating the meta header (Media Storage SOP Class and Instance UIDs) from
/// the dataset. Returns 0, or -1 with the reason.
int ms_dicom_save(ms_dicom_file *file, const char *path, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
