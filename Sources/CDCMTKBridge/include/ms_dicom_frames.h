/// The pixel data of an opened file: whether it is consistent and decodable,
/// and decoding one frame at a time (8-bit grayscale, stored samples, display).
#ifndef MS_DICOM_FRAMES_H
#define MS_DICOM_FRAMES_H

#include "ms_dicom_file.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether frames can be decoded here. Returns 1 if so; 0 with the reason in
/// `reason` otherwise (a compressed transfer syntax no registered decoder
/// reads: DCMTK's JPEG, JPEG-LS and RLE decoders and the bridge's JPEG 2000
/// decoder are registered).
int ms_dicom_is_decodable(ms_dicom_file *file, char *reason, size_t reason_capacity);

/// Checks the image attributes against the MS_MAX_* limits and against the
/// length of the pixel data actually present. Returns 0 when the pixel data is
/// consistent, 1 when the file has no pixel data (not an image), and -1 with a
/// reason otherwise.
int ms_dicom_check_pixel_data(ms_dicom_file *file, char *reason, size_t reason_capacity);

/// Proves the pixel data decodable: checks it (`ms_dicom_check_pixel_data`),
/// then decodes every frame as `ms_dicom_decode_frame_gray8` would. Returns 0
/// when every frame decodes, 1 when the file has no pixel data, 2 with the
/// reason when DCMTK does not render this kind of image at all (32-bit colour,
/// segmented palettes:
/// a limit of the decoder, not a fault of the file), and -1 with the reason
/// (naming the frame) when the pixel data does not decode. Import runs it on every instance,
/// so that a file accepted as decodable is decodable.
int ms_dicom_verify_frames(ms_dicom_file *file, char *reason, size_t reason_capacity);

/// Decodes frame `frame_index` (0-based) alone, without the other frames in
/// memory, into `output` as 8-bit grayscale (rows x columns bytes), pixel data
/// only (overlay planes are not drawn). Grayscale images: the modality rescale,
/// then the file's first VOI window, else the stored values when exactly 8 bits
/// are stored, else a min-max window over the frame; DCMTK rounds down to 8
/// bits after inverting MONOCHROME1. Colour images (RGB, YBR_*, PALETTE COLOR)
/// are converted to RGB by DCMTK, then to luma with the ITU-R BT.601 weights
/// 0.299, 0.587, 0.114, rounded to nearest.
int ms_dicom_decode_frame_gray8(ms_dicom_file *file, unsigned long frame_index, uint8_t *output, size_t output_capacity, char *error,
                                size_t error_capacity);

/// Decodes frame `frame_index` to its stored sample values, before any
/// modality rescale, window or colour conversion (colour samples interleaved,
/// in the colour model the decoder returns: RGB for JPEG's and JPEG 2000's
/// YCbCr), into `output` (rows x columns x samples values), masked to Bits
/// Stored and sign-extended when Pixel Representation is 1. Returns 0, or -1
/// with the reason; 1-bit frames (binary segmentations) give 0 and 1 from
/// uncompressed pixel data; images of more than 16 bits allocated, with
/// planar colour or subsampled YBR_*_422 storage are refused.
int ms_dicom_decode_frame_samples(ms_dicom_file *file, unsigned long frame_index, int32_t *output, size_t output_capacity, char *error,
                                  size_t error_capacity);

/// Decodes frame `frame_index` for display: grayscale as in
/// `ms_dicom_decode_frame_gray8` (one channel), colour as interleaved 8-bit RGB
/// (three channels), overlay planes drawn as a viewer would. Writes the channel count into `channels`.
int ms_dicom_decode_frame_display(ms_dicom_file *file, unsigned long frame_index, uint8_t *output, size_t output_capacity, int *channels,
                                  char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
