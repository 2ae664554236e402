// Opening a DICOM file within the limits (the pre-scan first, then DCMTK's
// parser with large values left on disk) and reading its attributes, also
// inside sequences by DCMTK path (ms_dicom_file.h); the attribute helpers that
// dicom_handle.h declares.

#include "ms_dicom_file.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmdata/dcpath.h"

#include <cstdlib>
#include <memory>
#include <string>

namespace {

// Values longer than this stay on disk until asked for, so that opening a
// 100 MB cine to read its metadata costs a few kilobytes.
const Uint32 kLazyValueThreshold = 4096;

long string_value(DcmItem *item, const DcmTagKey &key, std::string &out) {
    OFString value;
    // searchIntoSub = false: top-level attributes only, never from a sequence item.
    if (item->findAndGetOFStringArray(key, value, OFFalse).bad()) return -1;
    out.assign(value.c_str(), value.length());
    return static_cast<long>(out.size());
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

long long_value(DcmItem *item, const DcmTagKey &key, long fallback) {
    OFString value;
    if (item->findAndGetOFString(key, value, 0, OFFalse).bad() || value.empty()) return fallback;
    char *end = nullptr;
    long parsed = strtol(value.c_str(), &end, 10);
    return end == value.c_str() ? fallback : parsed;
}

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

unsigned long long decoded_bytes_per_sample(const ImageGeometry &g) { return g.bits_allocated <= 8 ? 1 : (g.bits_allocated + 7) / 8; }

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
        copy_message("sequences nested deeper than " + std::to_string(MS_MAX_SEQUENCE_DEPTH) + " levels", error, error_capacity);
        return false;
    }
    return true;
}

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
    if (dataset->findAndGetOFStringArray(DCM_SpecificCharacterSet, charset, OFFalse).good() && !charset.empty() &&
        charset != "ISO_IR 192") {
        dataset->convertToUTF8();
    }
    return file.release();
}

void ms_dicom_close(ms_dicom_file *file) { delete file; }

long ms_dicom_get_string(ms_dicom_file *file, uint16_t group, uint16_t element, char *buffer, size_t capacity) {
    DcmItem *item =
        group == 0x0002 ? OFstatic_cast(DcmItem *, file->format.getMetaInfo()) : OFstatic_cast(DcmItem *, file->format.getDataset());
    std::string value;
    long length = string_value(item, DcmTagKey(group, element), value);
    if (length >= 0 && buffer != nullptr && capacity > 0) copy_message(value, buffer, capacity);
    return length;
}

void ms_dicom_transfer_syntax(ms_dicom_file *file, char *uid, size_t uid_capacity, char *name, size_t name_capacity) {
    DcmXfer xfer(file->format.getDataset()->getOriginalXfer());
    copy_message(xfer.getXferID(), uid, uid_capacity);
    copy_message(xfer.getXferName(), name, name_capacity);
}

long ms_dicom_get_path_string(ms_dicom_file *file, const char *path, char *buffer, size_t capacity) {
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

}  // extern "C"
