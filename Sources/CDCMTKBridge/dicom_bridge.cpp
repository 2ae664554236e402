// The DCMTK side of medsynth: parsing, limits, frame decoding and log routing.
// Everything DCMTK-specific stays in this file; Swift sees medsynth_dicom.h only.

#include "ms_dicom_digest.h"
#include "ms_dicom_file.h"
#include "ms_dicom_frames.h"
#include "ms_dicom_init.h"
#include "ms_dicom_write.h"

#include "bridge_internal.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcpath.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcwcache.h"
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/appender.h"
#include "dcmtk/oflog/logger.h"
#include "dcmtk/oflog/oflog.h"
#include "dcmtk/oflog/spi/logevent.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct ms_dicom_file {
    DcmFileFormat format;
    std::string path;
};

namespace {

// Values longer than this stay on disk until asked for, so that opening a
// 100 MB cine to read its metadata costs a few kilobytes.
const Uint32 kLazyValueThreshold = 4096;

/// What `with_frame_image` returns for an image DCMTK cannot render at all.
const int kUnsupportedImage = -2;

/// Forwards DCMTK's log events to the application's callback.
class CallbackAppender : public dcmtk::log4cplus::Appender {
public:
    explicit CallbackAppender(ms_log_callback callback) : callback_(callback) {}
    ~CallbackAppender() override { destructorImpl(); }
    void close() override {}

protected:
    void append(const dcmtk::log4cplus::spi::InternalLoggingEvent &event) override {
        int level = MS_LOG_TRACE;
        switch (event.getLogLevel()) {
            case dcmtk::log4cplus::FATAL_LOG_LEVEL: level = MS_LOG_FATAL; break;
            case dcmtk::log4cplus::ERROR_LOG_LEVEL: level = MS_LOG_ERROR; break;
            case dcmtk::log4cplus::WARN_LOG_LEVEL: level = MS_LOG_WARN; break;
            case dcmtk::log4cplus::INFO_LOG_LEVEL: level = MS_LOG_INFO; break;
            case dcmtk::log4cplus::DEBUG_LOG_LEVEL: level = MS_LOG_DEBUG; break;
            default: level = MS_LOG_TRACE; break;
        }
        callback_(level, event.getLoggerName().c_str(), event.getMessage().c_str());
    }

private:
    ms_log_callback callback_;
};

dcmtk::log4cplus::LogLevel oflog_level(int level) {
    switch (level) {
        case MS_LOG_TRACE: return dcmtk::log4cplus::TRACE_LOG_LEVEL;
        case MS_LOG_DEBUG: return dcmtk::log4cplus::DEBUG_LOG_LEVEL;
        case MS_LOG_INFO: return dcmtk::log4cplus::INFO_LOG_LEVEL;
        case MS_LOG_WARN: return dcmtk::log4cplus::WARN_LOG_LEVEL;
        case MS_LOG_ERROR: return dcmtk::log4cplus::ERROR_LOG_LEVEL;
        default: return dcmtk::log4cplus::FATAL_LOG_LEVEL;
    }
}

std::once_flag initialization_flag;

long string_value(DcmItem *item, const DcmTagKey &key, std::string &out) {
    OFString value;
    // searchIntoSub = false: top-level attributes only, never from a sequence item.
    if (item->findAndGetOFStringArray(key, value, OFFalse).bad()) return -1;
    out.assign(value.c_str(), value.length());
    return static_cast<long>(out.size());
}

long long_value(DcmItem *item, const DcmTagKey &key, long fallback) {
    OFString value;
    if (item->findAndGetOFString(key, value, 0, OFFalse).bad() || value.empty()) return fallback;
    char *end = nullptr;
    long parsed = strtol(value.c_str(), &end, 10);
    return end == value.c_str() ? fallback : parsed;
}

/// Depth of the deepest sequence nesting below `item` (0 when it has no sequences).
int sequence_depth(DcmItem *item, int limit) {
    int deepest = 0;
    for (unsigned long i = 0; i < item->card(); ++i) {
        DcmElement *element = item->getElement(i);
        if (element == nullptr || element->ident() != EVR_SQ) continue;
        DcmSequenceOfItems *sequence = OFstatic_cast(DcmSequenceOfItems *, element);
        for (unsigned long j = 0; j < sequence->card(); ++j) {
            int depth = 1 + sequence_depth(sequence->getItem(j), limit);
            if (depth > deepest) deepest = depth;
            if (deepest > limit) return deepest;
        }
        if (deepest == 0) deepest = 1;
    }
    return deepest;
}

struct ImageGeometry {
    unsigned long rows, columns, frames, samples, bits_allocated, bits_stored;
    std::string photometric;
};

ImageGeometry geometry(DcmDataset *dataset) {
    ImageGeometry g;
    g.rows = static_cast<unsigned long>(long_value(dataset, DCM_Rows, 0));
    g.columns = static_cast<unsigned long>(long_value(dataset, DCM_Columns, 0));
    g.frames = static_cast<unsigned long>(long_value(dataset, DCM_NumberOfFrames, 1));
    g.samples = static_cast<unsigned long>(long_value(dataset, DCM_SamplesPerPixel, 1));
    g.bits_allocated = static_cast<unsigned long>(long_value(dataset, DCM_BitsAllocated, 0));
    g.bits_stored = static_cast<unsigned long>(long_value(dataset, DCM_BitsStored, g.bits_allocated));
    string_value(dataset, DCM_PhotometricInterpretation, g.photometric);
    return g;
}

/// Whether frame `frame_index` exists and the pixel data can give it to a
/// decoder; false with the reason otherwise.
bool frame_ready(ms_dicom_file *file, unsigned long frame_index, char *error, size_t error_capacity) {
    ImageGeometry g = geometry(file->format.getDataset());
    if (frame_index >= g.frames) {
        copy_message("frame " + std::to_string(frame_index) + " out of range (the file has " +
                         std::to_string(g.frames) + " frames)",
                     error, error_capacity);
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
int with_frame_image(ms_dicom_file *file, unsigned long frame_index, char *error,
                     size_t error_capacity,
                     const std::function<int(DicomImage &)> &body) {
    if (!frame_ready(file, frame_index, error, error_capacity)) return -1;
    DcmDataset *dataset = file->format.getDataset();
    ms_jpeg2000_take_error();
    DicomImage image(&file->format, dataset->getOriginalXfer(),
                     CIF_UsePartialAccessToPixelData, frame_index, 1);
    if (image.getStatus() != EIS_Normal) {
        copy_message(with_jpeg2000_reason(DicomImage::getString(image.getStatus())), error, error_capacity);
        // A kind of image DCMTK does not render (32-bit colour), unlike corrupt data.
        return image.getStatus() == EIS_NotSupportedValue ? kUnsupportedImage : -1;
    }
    return body(image);
}

}  // namespace

extern "C" {

void ms_dicom_initialize(ms_log_callback callback, int minimum_level) {
    std::call_once(initialization_flag, [&] {
        // Attributes stored with VR UN (an explicit VR writer that did not know
        // them) are read with their dictionary VR, as pydicom does.
        dcmEnableUnknownVRConversion.set(OFTrue);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        ms_register_jpeg2000_decoder();
        dcmtk::log4cplus::Logger root = dcmtk::log4cplus::Logger::getRoot();
        root.removeAllAppenders();
        if (callback != nullptr) {
            root.addAppender(dcmtk::log4cplus::SharedAppenderPtr(new CallbackAppender(callback)));
        }
        root.setLogLevel(oflog_level(minimum_level));
    });
}

}  // extern "C"

namespace {

/// Pre-scans `path` and loads it into `format` within the limits (values over
/// `kLazyValueThreshold` stay on disk until read). Returns false with the reason.
bool load_within_limits(const char *path, DcmFileFormat &format, char *error, size_t error_capacity) {
    if (ms_dicom_prescan(path, error, error_capacity) != 0) return false;
    OFCondition status = format.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, kLazyValueThreshold, ERM_autoDetect);
    if (status.bad()) {
        copy_message(std::string("not readable as DICOM (") + status.text() + ")", error, error_capacity);
        return false;
    }
    DcmDataset *dataset = format.getDataset();
    if (dataset == nullptr || dataset->card() == 0) {
        copy_message("not readable as DICOM (empty dataset)", error, error_capacity);
        return false;
    }
    if (sequence_depth(dataset, MS_MAX_SEQUENCE_DEPTH) > MS_MAX_SEQUENCE_DEPTH) {
        copy_message("sequences nested deeper than " + std::to_string(MS_MAX_SEQUENCE_DEPTH) + " levels", error,
                     error_capacity);
        return false;
    }
    return true;
}

}  // namespace

extern "C" {

ms_dicom_file *ms_dicom_open(const char *path, char *error, size_t error_capacity) {
    std::unique_ptr<ms_dicom_file> file(new ms_dicom_file());
    file->path = path;
    if (!load_within_limits(path, file->format, error, error_capacity)) return nullptr;
    DcmDataset *dataset = file->format.getDataset();
    // Names and text in a declared character set (ISO_IR 100 and the others)
    // become UTF-8 here, so that Swift reads letters, not replacement marks.
    // A value that does not convert stays as stored: the file is not refused
    // for it (DCMTK logs a warning).
    OFString charset;
    if (dataset->findAndGetOFStringArray(DCM_SpecificCharacterSet, charset, OFFalse).good() &&
        !charset.empty() && charset != "ISO_IR 192") {
        dataset->convertToUTF8();
    }
    return file.release();
}

void ms_dicom_close(ms_dicom_file *file) { delete file; }

long ms_dicom_get_string(ms_dicom_file *file, uint16_t group, uint16_t element, char *buffer,
                         size_t capacity) {
    DcmItem *item = group == 0x0002 ? OFstatic_cast(DcmItem *, file->format.getMetaInfo())
                                    : OFstatic_cast(DcmItem *, file->format.getDataset());
    std::string value;
    long length = string_value(item, DcmTagKey(group, element), value);
    if (length >= 0 && buffer != nullptr && capacity > 0) copy_message(value, buffer, capacity);
    return length;
}

void ms_dicom_transfer_syntax(ms_dicom_file *file, char *uid, size_t uid_capacity, char *name,
                              size_t name_capacity) {
    DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
    copy_message(xfer.getXferID(), uid, uid_capacity);
    copy_message(xfer.getXferName(), name, name_capacity);
}

int ms_dicom_is_decodable(ms_dicom_file *file, char *reason, size_t reason_capacity) {
    E_TransferSyntax original = file->format.getDataset()->getOriginalXfer();
    DcmXfer xfer(original);
    if (xfer.isNotEncapsulated()) return 1;
    if (DcmCodecList::canChangeCoding(original, EXS_LittleEndianExplicit)) return 1;
    copy_message(std::string("no decoder for transfer syntax ") + xfer.getXferName() + " (" +
                     xfer.getXferID() + ") in DCMTK",
                 reason, reason_capacity);
    return 0;
}

namespace {

/// Decoded frames are always at least one byte per sample.
unsigned long long decoded_bytes_per_sample(const ImageGeometry &g) {
    return g.bits_allocated <= 8 ? 1 : (g.bits_allocated + 7) / 8;
}

/// Why the image attributes cannot describe pixel data within the limits, or "".
std::string geometry_problem(const ImageGeometry &g) {
    if (g.rows == 0 || g.columns == 0 || g.samples == 0 || g.bits_allocated == 0) {
        return "pixel data without valid Rows, Columns, Samples per Pixel and Bits Allocated";
    }
    if (g.frames == 0 || g.frames > MS_MAX_FRAMES) {
        return "Number of Frames " + std::to_string(g.frames) + " outside 1 to " + std::to_string(MS_MAX_FRAMES);
    }
    unsigned long long frame_bytes =
        static_cast<unsigned long long>(g.rows) * g.columns * g.samples * decoded_bytes_per_sample(g);
    if (frame_bytes > MS_MAX_FRAME_BYTES) {
        return "a frame of " + std::to_string(g.rows) + "x" + std::to_string(g.columns) + "x" +
               std::to_string(g.samples) + " needs " + std::to_string(frame_bytes) +
               " bytes, more than the limit of " + std::to_string(MS_MAX_FRAME_BYTES);
    }
    return "";
}

/// Why native pixel data is shorter than its attributes need, or "".
std::string native_length_problem(const ImageGeometry &g, DcmElement *element) {
    unsigned long long pixels = static_cast<unsigned long long>(g.rows) * g.columns * g.frames;
    unsigned long long stored;
    if (g.bits_allocated == 1) {
        stored = (pixels * g.samples + 7) / 8;
    } else if (g.photometric == "YBR_FULL_422" || g.photometric == "YBR_PARTIAL_422") {
        stored = pixels * 2 * ((g.bits_allocated + 7) / 8);
    } else {
        stored = pixels * g.samples * ((g.bits_allocated + 7) / 8);
    }
    unsigned long long present = element->getLength();
    if (present >= stored) return "";
    return "pixel data has " + std::to_string(present) + " bytes, " + std::to_string(g.frames) +
           " frames of " + std::to_string(g.rows) + "x" + std::to_string(g.columns) + " need " +
           std::to_string(stored);
}

/// Why fragment `index` (from 1) of RLE or JPEG pixel data would mislead its
/// decoder, or "". Read without keeping the value loaded: RLE needs the
/// 64-byte header, JPEG the marker walk from the start of the fragment.
std::string fragment_problem(DcmPixelItem *item, unsigned long index, bool rle, long segments_per_frame) {
    Uint32 length = item->getLength();
    std::vector<Uint8> bytes(rle ? std::min<Uint32>(length, 64) : length);
    if (item->getPartialValue(bytes.data(), 0, static_cast<Uint32>(bytes.size())).bad()) {
        return "pixel data fragment " + std::to_string(index) + " cannot be read";
    }
    char problem[256];
    if (rle && ms_rle_fragment_problem(bytes.data(), length, segments_per_frame, problem, sizeof problem) != 0) {
        return "RLE frame " + std::to_string(index - 1) + problem;
    }
    if (!rle && ms_jpeg_fragment_problem(bytes.data(), bytes.size(), problem, sizeof problem) != 0) {
        return "pixel data fragment " + std::to_string(index) + " has " + problem;
    }
    return "";
}

/// Why encapsulated pixel data cannot give every frame to its decoder, or "".
/// The pre-scan checked the bytes as it read them; these are the fragments as
/// DCMTK parsed them, which its decoders will use.
std::string encapsulated_problem(DcmDataset *dataset, DcmElement *element, const ImageGeometry &g) {
    DcmPixelData *pixel_data = OFstatic_cast(DcmPixelData *, element);
    DcmPixelSequence *sequence = nullptr;
    if (pixel_data->getEncapsulatedRepresentation(dataset->getOriginalXfer(), nullptr, sequence).bad() ||
        sequence == nullptr) {
        return "compressed pixel data without an encapsulated pixel sequence";
    }
    // Item 0 is the Basic Offset Table; every frame needs at least one fragment.
    unsigned long fragments = sequence->card() > 0 ? sequence->card() - 1 : 0;
    if (fragments < g.frames) {
        return "compressed pixel data has " + std::to_string(fragments) + " fragments for " +
               std::to_string(g.frames) + " frames";
    }
    bool rle = dataset->getOriginalXfer() == EXS_RLELossless;
    bool jpeg = ms_is_dcmjpeg_syntax(DcmXfer(dataset->getOriginalXfer()).getXferID()) != 0;
    if (rle && fragments != g.frames) {
        return "RLE pixel data has " + std::to_string(fragments) + " fragments for " + std::to_string(g.frames) +
               " frames (RLE needs one per frame)";
    }
    long segments_per_frame = static_cast<long>(g.samples * decoded_bytes_per_sample(g));
    for (unsigned long index = 1; index <= fragments; ++index) {
        DcmPixelItem *item = nullptr;
        if (sequence->getItem(item, index).bad() || item == nullptr || item->getLength() == 0) {
            return "pixel data fragment " + std::to_string(index) + " is empty";
        }
        if (!rle && !jpeg) continue;
        std::string problem = fragment_problem(item, index, rle, segments_per_frame);
        if (!problem.empty()) return problem;
    }
    return "";
}

}  // namespace

int ms_dicom_check_pixel_data(ms_dicom_file *file, char *reason, size_t reason_capacity) {
    copy_message("", reason, reason_capacity);
    DcmDataset *dataset = file->format.getDataset();
    DcmElement *element = nullptr;
    if (dataset->findAndGetElement(DCM_PixelData, element, OFFalse).bad() || element == nullptr) {
        return 1;
    }
    ImageGeometry g = geometry(dataset);
    std::string problem = geometry_problem(g);
    if (problem.empty()) {
        problem = DcmXfer(dataset->getOriginalXfer()).isNotEncapsulated() ? native_length_problem(g, element)
                                                                          : encapsulated_problem(dataset, element, g);
    }
    if (problem.empty()) return 0;
    copy_message(problem, reason, reason_capacity);
    return -1;
}

namespace {

/// Renders one frame to 8 bits per sample: grayscale through the file's first
/// window, else unchanged when exactly 8 bits are stored, else through a
/// min-max window (DCMTK would shift a 1-bit mask to 0/128); colour as
/// interleaved RGB.
int render_frame(ms_dicom_file *file, unsigned long frame_index, bool draw_overlays,
                 uint8_t *output, size_t output_capacity, int *channels, char *error,
                 size_t error_capacity) {
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
            copy_message("output buffer of " + std::to_string(output_capacity) +
                             " bytes is too small for " + std::to_string(needed),
                         error, error_capacity);
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

int ms_dicom_decode_frame_display(ms_dicom_file *file, unsigned long frame_index, uint8_t *output,
                                  size_t output_capacity, int *channels, char *error,
                                  size_t error_capacity) {
    return render_frame(file, frame_index, true, output, output_capacity, channels, error,
                        error_capacity);
}

int ms_dicom_decode_frame_gray8(ms_dicom_file *file, unsigned long frame_index, uint8_t *output,
                                size_t output_capacity, char *error, size_t error_capacity) {
    ImageGeometry g = geometry(file->format.getDataset());
    size_t pixels = static_cast<size_t>(g.rows) * g.columns;
    if (pixels > output_capacity) {
        copy_message("output buffer too small", error, error_capacity);
        return -1;
    }
    int channels = 0;
    if (g.samples == 1 && g.photometric != "PALETTE COLOR") {
        return render_frame(file, frame_index, false, output, output_capacity, &channels, error,
                            error_capacity);
    }
    std::unique_ptr<uint8_t[]> rgb(new uint8_t[pixels * 3]);
    int status = render_frame(file, frame_index, false, rgb.get(), pixels * 3, &channels, error,
                              error_capacity);
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

int ms_dicom_decode_frame_samples(ms_dicom_file *file, unsigned long frame_index, int32_t *output,
                                  size_t output_capacity, char *error, size_t error_capacity) {
    if (!frame_ready(file, frame_index, error, error_capacity)) return -1;
    DcmDataset *dataset = file->format.getDataset();
    ImageGeometry g = geometry(dataset);
    long planar = long_value(dataset, DCM_PlanarConfiguration, 0);
    if (g.bits_allocated == 1 || g.bits_allocated > 16 || (g.samples > 1 && planar != 0) ||
        g.photometric.find("_422") != std::string::npos) {
        copy_message("stored samples are given for 8- to 16-bit images with interleaved, unsubsampled colour only",
                     error, error_capacity);
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
    OFCondition status = pixel_data->getUncompressedFrame(dataset, static_cast<Uint32>(frame_index), start_fragment,
                                                          frame.data(), static_cast<Uint32>(frame.size()),
                                                          color_model);
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
        output[i] = is_signed && (stored & sign_bit) ? static_cast<int32_t>(stored) - static_cast<int32_t>(mask) - 1
                                                     : static_cast<int32_t>(stored);
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
        int decoded = ms_dicom_decode_frame_gray8(file, index, frame.get(),
                                                  static_cast<size_t>(g.rows) * g.columns, error, sizeof error);
        if (decoded == kUnsupportedImage && index == 0) {
            copy_message(std::string("DCMTK does not render this kind of image (") + error + ")", reason,
                         reason_capacity);
            return 2;
        }
        if (decoded != 0) {
            copy_message("cannot decode frame " + std::to_string(index) + " (" + error + ")", reason,
                         reason_capacity);
            return -1;
        }
    }
    return 0;
}

int ms_dicom_set_string(ms_dicom_file *file, uint16_t group, uint16_t element, const char *vr,
                        const char *value, char *error, size_t error_capacity) {
    DcmTag tag(group, element);
    if (vr != nullptr) tag.setVR(DcmVR(vr));
    OFCondition status = file->format.getDataset()->putAndInsertString(tag, value);
    if (status.bad()) {
        copy_message(std::string("cannot set ") + tag.toString().c_str() + " (" + status.text() + ")",
                     error, error_capacity);
        return -1;
    }
    return 0;
}

ms_dicom_file *ms_dicom_create(void) { return new ms_dicom_file(); }

int ms_dicom_set_path_string(ms_dicom_file *file, const char *path, const char *value,
                             char *error, size_t error_capacity) {
    DcmPathProcessor processor;
    OFCondition status = processor.findOrCreatePath(file->format.getDataset(), path, OFTrue);
    OFList<DcmPath *> found;
    DcmElement *element = nullptr;
    if (status.good() && processor.getResults(found) == 1) {
        DcmPathNode *last = found.front()->back();
        if (last != nullptr && last->m_obj != nullptr && last->m_obj->isLeaf()) {
            element = OFstatic_cast(DcmElement *, last->m_obj);
        }
    }
    if (element == nullptr) {
        copy_message(std::string("cannot create ") + path + " (" +
                         (status.bad() ? status.text() : "not an attribute") + ")",
                     error, error_capacity);
        return -1;
    }
    status = element->putString(value);
    if (status.bad()) {
        copy_message(std::string("cannot set ") + path + " (" + status.text() + ")", error,
                     error_capacity);
        return -1;
    }
    return 0;
}

namespace {

/// The object at `path` in the dataset, or nullptr when the path does not
/// lead to exactly one existing object (nothing is created).
DcmObject *object_at_path(ms_dicom_file *file, const char *path) {
    DcmPathProcessor processor;
    if (processor.findOrCreatePath(file->format.getDataset(), path, OFFalse).bad()) return nullptr;
    OFList<DcmPath *> found;
    if (processor.getResults(found) != 1) return nullptr;
    DcmPathNode *last = found.front()->back();
    return last == nullptr ? nullptr : last->m_obj;
}

}  // namespace

long ms_dicom_get_path_string(ms_dicom_file *file, const char *path, char *buffer,
                              size_t capacity) {
    DcmObject *object = object_at_path(file, path);
    if (object == nullptr || !object->isLeaf()) return -1;
    OFString value;
    if (OFstatic_cast(DcmElement *, object)->getOFStringArray(value).bad()) return -1;
    std::string text(value.c_str(), value.length());
    if (buffer != nullptr && capacity > 0) copy_message(text, buffer, capacity);
    return static_cast<long>(text.size());
}

long ms_dicom_count_items(ms_dicom_file *file, const char *path) {
    DcmObject *object = object_at_path(file, path);
    if (object == nullptr || object->ident() != EVR_SQ) return -1;
    return static_cast<long>(OFstatic_cast(DcmSequenceOfItems *, object)->card());
}

int ms_dicom_set_pixel_data_8bit(ms_dicom_file *file, const uint8_t *pixels, size_t count,
                                 char *error, size_t error_capacity) {
    if (count > 0xFFFFFFFEul) {
        copy_message("pixel data over 4 GiB", error, error_capacity);
        return -1;
    }
    OFCondition status = file->format.getDataset()->putAndInsertUint8Array(
        DCM_PixelData, pixels, OFstatic_cast(unsigned long, count));
    if (status.bad()) {
        copy_message(std::string("cannot set pixel data (") + status.text() + ")", error,
                     error_capacity);
        return -1;
    }
    return 0;
}

int ms_dicom_save(ms_dicom_file *file, const char *path, char *error, size_t error_capacity) {
    E_TransferSyntax xfer = file->format.getDataset()->getOriginalXfer();
    if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
    OFCondition status = file->format.saveFile(OFFilename(path), xfer, EET_ExplicitLength, EGL_recalcGL,
                                               EPD_withoutPadding, 0, 0, EWM_updateMeta);
    if (status.bad()) {
        copy_message(std::string("cannot write DICOM (") + status.text() + ")", error, error_capacity);
        return -1;
    }
    return 0;
}

}  // extern "C"

namespace {

void hex_digest(EVP_MD_CTX *context, char *hex) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context, digest, &length);
    for (unsigned int i = 0; i < length; ++i) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/// Reads `input` to its end, hashing every chunk and handing it to `sink`
/// (which returns false on failure). Returns the error text, or "".
std::string digest_stream(int input, EVP_MD_CTX *context, char *hex,
                          const std::function<bool(const unsigned char *, size_t)> &sink) {
    EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
    std::unique_ptr<unsigned char[]> chunk(new unsigned char[1 << 20]);
    while (true) {
        ssize_t count = read(input, chunk.get(), 1 << 20);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return std::string("cannot read: ") + strerror(errno);
        if (count == 0) break;
        EVP_DigestUpdate(context, chunk.get(), static_cast<size_t>(count));
        if (!sink(chunk.get(), static_cast<size_t>(count))) return std::string("cannot write: ") + strerror(errno);
    }
    hex_digest(context, hex);
    return "";
}

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

/// A DCMTK output stream's end that hashes what it is given instead of storing it.
class DigestConsumer : public DcmConsumer {
public:
    explicit DigestConsumer(EVP_MD_CTX *context) : context_(context) {}
    OFBool good() const override { return OFTrue; }
    OFCondition status() const override { return EC_Normal; }
    OFBool isFlushed() const override { return OFTrue; }
    offile_off_t avail() const override { return 1 << 20; }
    offile_off_t write(const void *bytes, offile_off_t count) override {
        EVP_DigestUpdate(context_, bytes, static_cast<size_t>(count));
        return count;
    }
    void flush() override {}

private:
    EVP_MD_CTX *context_;
};

/// DCMTK's output stream over a consumer (its constructor is protected).
class ConsumerStream : public DcmOutputStream {
public:
    explicit ConsumerStream(DcmConsumer *consumer) : DcmOutputStream(consumer) {}
};

}  // namespace

extern "C" {

int ms_sha256_file(const char *path, char *hex, char *error, size_t error_capacity) {
    int input = open(path, O_RDONLY | O_CLOEXEC);
    if (input < 0) {
        copy_message(std::string("cannot open: ") + strerror(errno), error, error_capacity);
        return -1;
    }
    DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string failure = digest_stream(input, context.get(), hex, [](const unsigned char *, size_t) { return true; });
    close(input);
    if (!failure.empty()) {
        copy_message(failure, error, error_capacity);
        return -1;
    }
    return 0;
}

int ms_copy_with_sha256(const char *source, const char *destination, char *hex, long long *size,
                        char *error, size_t error_capacity) {
    int input = open(source, O_RDONLY | O_CLOEXEC);
    if (input < 0) {
        copy_message(std::string("cannot open: ") + strerror(errno), error, error_capacity);
        return -1;
    }
    int output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (output < 0) {
        copy_message(std::string("cannot create ") + destination + ": " + strerror(errno), error, error_capacity);
        close(input);
        return -1;
    }
    long long copied = 0;
    DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::string failure = digest_stream(input, context.get(), hex, [&](const unsigned char *bytes, size_t count) {
        size_t written = 0;
        while (written < count) {
            ssize_t result = write(output, bytes + written, count - written);
            if (result < 0 && errno == EINTR) continue;
            if (result <= 0) return false;
            written += static_cast<size_t>(result);
        }
        copied += static_cast<long long>(count);
        return true;
    });
    close(input);
    if (close(output) != 0 && failure.empty()) failure = std::string("cannot write: ") + strerror(errno);
    if (!failure.empty()) {
        unlink(destination);
        copy_message(failure, error, error_capacity);
        return -1;
    }
    *size = copied;
    return 0;
}

int ms_dataset_sha256(const char *path, char *hex, char *error, size_t error_capacity) {
    DcmFileFormat format;
    if (!load_within_limits(path, format, error, error_capacity)) return -1;
    DcmDataset *dataset = format.getDataset();
    // Implicit VR for native pixel data: the value bytes of an uncompressed dataset
    // are the same in any little-endian syntax, but its VRs are not (8-bit pixels
    // read back from implicit VR are OW, written by most explicit-VR writers as OB).
    // Encapsulated pixel data hash in their own syntax.
    E_TransferSyntax xfer = dataset->getOriginalXfer();
    if (xfer == EXS_Unknown || !DcmXfer(xfer).isEncapsulated()) xfer = EXS_LittleEndianImplicit;
    DigestContext context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
    DigestConsumer consumer(context.get());
    ConsumerStream stream(&consumer);
    DcmWriteCache cache;  // one open of the file for all values left on disk
    OFCondition status;
    dataset->transferInit();
    do {
        status = dataset->write(stream, xfer, EET_ExplicitLength, &cache, EGL_withoutGL, EPD_withoutPadding);
    } while (status == EC_StreamNotifyClient);
    dataset->transferEnd();
    stream.flush();
    if (status.bad()) {
        copy_message(std::string("cannot encode the dataset (") + status.text() + ")", error, error_capacity);
        return -1;
    }
    hex_digest(context.get(), hex);
    return 0;
}

void ms_sha256_bytes(const void *bytes, size_t count, char *hex) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(bytes, count, digest, &length, EVP_sha256(), nullptr);
    for (unsigned int i = 0; i < length; ++i) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

}  // extern "C"
