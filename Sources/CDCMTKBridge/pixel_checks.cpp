// Whether an opened file's pixel data is consistent and decodable
// (ms_dicom_is_decodable, ms_dicom_check_pixel_data): the image attributes
// against the MS_MAX_* limits and the bytes present, and the fragments of
// encapsulated pixel data as DCMTK parsed them, before a decoder reads them.

#include "ms_dicom_frames.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcpxitem.h"

#include <algorithm>
#include <string>
#include <vector>

namespace {

/// Why the image attributes cannot describe pixel data within the limits, or "".
std::string geometry_problem(const ImageGeometry &g) {
    if (g.rows == 0 || g.columns == 0 || g.samples == 0 || g.bits_allocated == 0) {
        return "pixel data without valid Rows, Columns, Samples per Pixel and Bits Allocated";
    }
    if (g.frames == 0 || g.frames > MS_MAX_FRAMES) {
        return "Number of Frames " + std::to_string(g.frames) + " outside 1 to " + std::to_string(MS_MAX_FRAMES);
    }
    unsigned long long frame_bytes = static_cast<unsigned long long>(g.rows) * g.columns * g.samples * decoded_bytes_per_sample(g);
    if (frame_bytes > MS_MAX_FRAME_BYTES) {
        return "a frame of " + std::to_string(g.rows) + "x" + std::to_string(g.columns) + "x" + std::to_string(g.samples) + " needs " +
               std::to_string(frame_bytes) + " bytes, more than the limit of " + std::to_string(MS_MAX_FRAME_BYTES);
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
    return "pixel data has " + std::to_string(present) + " bytes, " + std::to_string(g.frames) + " frames of " + std::to_string(g.rows) +
           "x" + std::to_string(g.columns) + " need " + std::to_string(stored);
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
    if (pixel_data->getEncapsulatedRepresentation(dataset->getOriginalXfer(), nullptr, sequence).bad() || sequence == nullptr) {
        return "compressed pixel data without an encapsulated pixel sequence";
    }
    // Item 0 is the Basic Offset Table; every frame needs at least one fragment.
    unsigned long fragments = sequence->card() > 0 ? sequence->card() - 1 : 0;
    if (fragments < g.frames) {
        return "compressed pixel data has " + std::to_string(fragments) + " fragments for " + std::to_string(g.frames) + " frames";
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

extern "C" {

int ms_dicom_is_decodable(ms_dicom_file *file, char *reason, size_t reason_capacity) {
    E_TransferSyntax original = file->format.getDataset()->getOriginalXfer();
    DcmXfer xfer(original);
    if (xfer.isNotEncapsulated()) return 1;
    if (DcmCodecList::canChangeCoding(original, EXS_LittleEndianExplicit)) return 1;
    copy_message(std::string("no decoder for transfer syntax ") + xfer.getXferName() + " (" + xfer.getXferID() + ") in DCMTK", reason,
                 reason_capacity);
    return 0;
}

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

}  // extern "C"
