/// Making the DICOM objects that hold a labelled model's labels on its
/// synthetic frames: a binary Segmentation (PS3.3 A.51) with DCMTK's dcmseg,
/// and a Comprehensive SR (PS3.3 A.35.3) of named points with dcmsr.
#ifndef MS_DICOM_LABEL_OBJECTS_H
#define MS_DICOM_LABEL_OBJECTS_H

#include "ms_dicom_file.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One frame of a Segmentation: a mask of `rows` x `columns` bytes (non-zero
/// set) over frame `frame_number` (from 1) of the image instance
/// `sop_instance_uid` of SOP class `sop_class_uid`.
typedef struct {
    const char *sop_class_uid;
    const char *sop_instance_uid;
    int32_t frame_number;
    const uint8_t *mask;
} ms_segmentation_frame;

/// What a Segmentation says about itself and its one segment.
typedef struct {
    uint16_t rows;
    uint16_t columns;
    /// Segment Label (LO) and the algorithm's name: the segment was made AUTOMATIC.
    const char *segment_label;
    const char *algorithm_name;
    /// Segmented Property Category and Type: (code value, coding scheme designator, code meaning).
    const char *category[3];
    const char *type[3];
    /// General Equipment of the Segmentation.
    const char *manufacturer;
    const char *model_name;
    const char *device_serial_number;
    const char *software_versions;
    /// Content Identification.
    const char *instance_number;
    const char *content_label;
    const char *content_description;
} ms_segmentation_description;

/// A binary Segmentation of one segment with `frame_count` frames, each
/// deriving from its source frame (Derivation Image and Source Image
/// Sequences, purpose "Source image for image processing operation") and
/// indexed by its place in `frames` (Stack ID 1, In-Stack Position Number).
/// Patient, study and series attributes are DCMTK's defaults (Series Number
/// 1, which dcmseg requires before it writes), to be set with
/// `ms_dicom_set_*` before `ms_dicom_save`. Returns the dataset, freed by
/// `ms_dicom_close`, or NULL with the reason.
ms_dicom_file *ms_segmentation_create(const ms_segmentation_description *description, const ms_segmentation_frame *frames,
                                      size_t frame_count, char *error, size_t error_capacity);

/// A named point on frame `frame_number` (from 1) of an image instance, in
/// DICOM image coordinates: `column` and `row` from the top left corner of the
/// top left pixel (whose centre is 0.5, 0.5).
typedef struct {
    const char *sop_class_uid;
    const char *sop_instance_uid;
    int32_t frame_number;
    /// The point's concept name: (code value, coding scheme designator, code meaning).
    const char *name[3];
    float column;
    float row;
} ms_report_point;

/// A Comprehensive SR whose root container (`title`: code value, scheme,
/// meaning) CONTAINS one SCOORD POINT per entry of `points`, each SELECTED
/// FROM an IMAGE reference to its frame; the images are listed as evidence in
/// study `study_uid`, series `series_uid`. Completion Flag COMPLETE,
/// Verification Flag UNVERIFIED. Patient, study and series attributes are
/// DCMTK's defaults, to be set with `ms_dicom_set_*` before `ms_dicom_save`.
/// Returns the dataset, freed by `ms_dicom_close`, or NULL with the reason.
ms_dicom_file *ms_point_report_create(const char *const title[3], const char *study_uid, const char *series_uid,
                                      const ms_report_point *points, size_t count, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
