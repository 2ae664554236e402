// Decoding one frame of an opened file (ms_dicom_frames.h): rendered by DCMTK's
// DicomImage to 8-bit grayscale or display RGB, or as stored sample values;
// and the check that every frame of a file decodes.

#include "ms_dicom_frames.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/dcmimgle/dcmimage.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

/// What `with_frame_image` returns for an image DCMTK cannot render at all.
const int kUnsupportedImage = -2;

/// Whether frame `frame_index` exists and the pixel data can give it to a
/// decoder; false with the reason otherwise.
bool frame_ready(ms_dicom_file *file, unsigned long frame_index, char *error, size_t error_capacity) {
    ImageGeometry g = geometry(file->format.getDataset());
    if (frame_index >= g.frames) {
        copy_message("frame " + std::to_string(frame_index) + " out of range (the file has " + std::to_string(g.frames) + " frames)", error,
                     error_capacity);
        return false;
    }
    char reason[512];
    if (ms_dicom_check_pixel_data(file, reason, sizeof reason) != 0) {
        copy_message(reason[0] ? reason : "no pixel data", error, error_capacity);
        return false;
    }
    if (!ms_dicom_is_decodable(file, reason, sizeof reason)) {
        copy_message(reason, error, error_capacity);
        return false;
    }
    return true;
}

/// `failure`, followed by why the JPEG 2000 decoder failed when it did: DCMTK's
/// status says only that the pixels are invalid.
std::string with_jpeg2000_reason(const std::string &failure) {
    std::string jpeg2000_error = ms_jpeg2000_take_error();
    return jpeg2000_error.empty() ? failure : failure + ": " + jpeg2000_error;
}

/// Runs DicomImage on one frame and hands its status-checked image to `body`.
int with_frame_image(ms_dicom_file *file, unsigned long frame_index, char *error, size_t error_capacity,
                     const std::function<int(DicomImage &)> &body) {
    if (!frame_ready(file, frame_index, error, error_capacity)) return -1;
    DcmDataset *dataset = file->format.getDataset();
    ms_jpeg2000_take_error();
    DicomImage image(&file->format, dataset->getOriginalXfer(), CIF_UsePartialAccessToPixelData, frame_index, 1);
    if (image.getStatus() != EIS_Normal) {
        copy_message(with_jpeg2000_reason(DicomImage::getString(image.getStatus())), error, error_capacity);
        // A kind of image DCMTK does not render (32-bit colour), unlike corrupt data.
        return image.getStatus() == EIS_NotSupportedValue ? kUnsupportedImage : -1;
    }
    return body(image);
}

/// Renders one frame to 8 bits per sample: grayscale through the file's first
/// window, else unchanged when exactly 8 bits are stored, else through a
/// min-max window (DCMTK would shift a 1-bit mask to 0/128); colour as
/// interleaved RGB.
int render_frame(ms_dicom_file *file, unsigned long frame_index, bool draw_overlays, uint8_t *output, size_t output_capacity, int *channels,
                 char *error, size_t error_capacity) {
    return with_frame_image(file, frame_index, error, error_capacity, [&](DicomImage &image) {
        if (!draw_overlays) image.hideAllOverlays();
        if (image.isMonochrome()) {
            if (image.getWindowCount() > 0) {
                image.setWindow(0);
            } else if (geometry(file->format.getDataset()).bits_stored != 8) {
                image.setMinMaxWindow(0);
            }
        }
        int planes = image.isMonochrome() ? 1 : 3;
        size_t needed = static_cast<size_t>(image.getWidth()) * image.getHeight() * planes;
        if (needed > output_capacity) {
            copy_message("output buffer of " + std::to_string(output_capacity) + " bytes is too small for " + std::to_string(needed), error,
                         error_capacity);
            return -1;
        }
        if (!image.getOutputData(output, needed, 8, 0, 0)) {
            copy_message("DCMTK rendered no output for this frame", error, error_capacity);
            return -1;
        }
        *channels = planes;
        return 0;
    });
}

}  // namespace

extern "C" {

int ms_dicom_decode_frame_display(ms_dicom_file *file, unsigned long frame_index, uint8_t *output, size_t output_capacity, int *channels,
                                  char *error, size_t error_capacity) {
    return render_frame(file, frame_index, true, output, output_capacity, channels, error, error_capacity);
}

int ms_dicom_decode_frame_gray8(ms_dicom_file *file, unsigned long frame_index, uint8_t *output, size_t output_capacity, char *error,
                                size_t error_capacity) {
    ImageGeometry g = geometry(file->format.getDataset());
    size_t pixels = static_cast<size_t>(g.rows) * g.columns;
    if (pixels > output_capacity) {
        copy_message("output buffer too small", error, error_capacity);
        return -1;
    }
    int channels = 0;
    if (g.samples == 1 && g.photometric != "PALETTE COLOR") {
        return render_frame(file, frame_index, false, output, output_capacity, &channels, error, error_capacity);
    }
    std::unique_ptr<uint8_t[]> rgb(new uint8_t[pixels * 3]);
    int status = render_frame(file, frame_index, false, rgb.get(), pixels * 3, &channels, error, error_capacity);
    if (status != 0) return status;
    if (channels == 1) {
        memcpy(output, rgb.get(), pixels);
        return 0;
    }
    for (size_t i = 0; i < pixels; ++i) {
        const uint8_t *p = rgb.get() + 3 * i;
        double luma = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        output[i] = static_cast<uint8_t>(std::lround(luma));
    }
    return 0;
}

/// Frame `frame_index` of native 1-bit pixel data (a binary segmentation)
/// as 0 and 1. Frames follow each other bit after bit and need not start on
/// a byte boundary (PS3.5 8.1.1 and 8.2); the first pixel is the lowest bit.
static int decode_bit_frame(DcmDataset *dataset, const ImageGeometry &g, unsigned long frame_index, int32_t *output, size_t output_capacity,
                            char *error, size_t error_capacity) {
    size_t count = static_cast<size_t>(g.rows) * g.columns;
    if (g.samples != 1 || count > output_capacity) {
        copy_message(g.samples != 1 ? "1-bit images have one sample per pixel" : "output buffer too small", error, error_capacity);
        return -1;
    }
    if (!DcmXfer(dataset->getOriginalXfer()).isNotEncapsulated()) {
        copy_message("1-bit frames are read from uncompressed pixel data only", error, error_capacity);
        return -1;
    }
    DcmElement *element = nullptr;
    Uint8 *bytes = nullptr;
    if (dataset->findAndGetElement(DCM_PixelData, element, OFFalse).bad() || element->getUint8Array(bytes).bad() || bytes == nullptr) {
        copy_message("cannot read the pixel data", error, error_capacity);
        return -1;
    }
    size_t first_bit = frame_index * count;
    if ((first_bit + count + 7) / 8 > element->getLength()) {
        copy_message("the pixel data ends before frame " + std::to_string(frame_index + 1), error, error_capacity);
        return -1;
    }
    for (size_t i = 0; i < count; ++i) {
        size_t bit = first_bit + i;
        output[i] = (bytes[bit >> 3] >> (bit & 7)) & 1;
    }
    return 0;
}

int ms_dicom_decode_frame_samples(ms_dicom_file *file, unsigned long frame_index, int32_t *output, size_t output_capacity, char *error,
                                  size_t error_capacity) {
    if (!frame_ready(file, frame_index, error, error_capacity)) return -1;
    DcmDataset *dataset = file->format.getDataset();
    ImageGeometry g = geometry(dataset);
    if (g.bits_allocated == 1) return decode_bit_frame(dataset, g, frame_index, output, output_capacity, error, error_capacity);
    long planar = long_value(dataset, DCM_PlanarConfiguration, 0);
    if (g.bits_allocated > 16 || (g.samples > 1 && planar != 0) || g.photometric.find("_422") != std::string::npos) {
        copy_message("stored samples are given for 8- to 16-bit images with interleaved, unsubsampled colour only", error, error_capacity);
        return -1;
    }
    size_t count = static_cast<size_t>(g.rows) * g.columns * g.samples;
    if (count > output_capacity) {
        copy_message("output buffer too small", error, error_capacity);
        return -1;
    }
    DcmElement *element = nullptr;
    dataset->findAndGetElement(DCM_PixelData, element, OFFalse);
    DcmPixelData *pixel_data = OFstatic_cast(DcmPixelData *, element);
    size_t bytes = count * decoded_bytes_per_sample(g);
    std::vector<Uint8> frame(bytes + (bytes & 1));
    Uint32 start_fragment = 0;
    OFString color_model;
    ms_jpeg2000_take_error();
    OFCondition status = pixel_data->getUncompressedFrame(dataset, static_cast<Uint32>(frame_index), start_fragment, frame.data(),
                                                          static_cast<Uint32>(frame.size()), color_model);
    if (status.bad()) {
        copy_message(with_jpeg2000_reason(status.text()), error, error_capacity);
        return -1;
    }
    bool is_signed = long_value(dataset, DCM_PixelRepresentation, 0) == 1;
    uint32_t mask = g.bits_stored >= 32 ? 0xFFFFFFFFu : (1u << g.bits_stored) - 1;
    uint32_t sign_bit = g.bits_stored == 0 ? 0 : 1u << (g.bits_stored - 1);
    for (size_t i = 0; i < count; ++i) {
        uint32_t stored = g.bits_allocated <= 8 ? frame[i] : reinterpret_cast<const Uint16 *>(frame.data())[i];
        stored &= mask;
        output[i] =
            is_signed && (stored & sign_bit) ? static_cast<int32_t>(stored) - static_cast<int32_t>(mask) - 1 : static_cast<int32_t>(stored);
    }
    return 0;
}

int ms_dicom_verify_frames(ms_dicom_file *file, char *reason, size_t reason_capacity) {
    int status = ms_dicom_check_pixel_data(file, reason, reason_capacity);
    if (status != 0) return status;
    if (!ms_dicom_is_decodable(file, reason, reason_capacity)) return -1;
    DcmDataset *dataset = file->format.getDataset();
    ImageGeometry g = geometry(dataset);
    if (g.photometric == "PALETTE COLOR" && dataset->tagExists(DCM_SegmentedRedPaletteColorLookupTableData)) {
        copy_message("DCMTK does not render segmented palette colour lookup tables", reason, reason_capacity);
        return 2;
    }
    std::unique_ptr<uint8_t[]> frame(new uint8_t[static_cast<size_t>(g.rows) * g.columns]);
    for (unsigned long index = 0; index < g.frames; ++index) {
        char error[512];
        int decoded = ms_dicom_decode_frame_gray8(file, index, frame.get(), static_cast<size_t>(g.rows) * g.columns, error, sizeof error);
        if (decoded == kUnsupportedImage && index == 0) {
            copy_message(std::string("DCMTK does not render this kind of image (") + error + ")", reason, reason_capacity);
            return 2;
        }
        if (decoded != 0) {
            copy_message("cannot decode frame " + std::to_string(index) + " (" + error + ")", reason, reason_capacity);
            return -1;
        }
    }
    return 0;
}

}  // extern "C"
