// Creating a dataset, setting its attributes (also inside sequences, by DCMTK
// path) and 8-bit pixel data, and saving it as a DICOM Part 10 file
// (ms_dicom_write.h).

#include "ms_dicom_write.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmdata/dcpath.h"

#include <string>

extern "C" {

int ms_dicom_set_string(ms_dicom_file *file, uint16_t group, uint16_t element, const char *vr, const char *value, char *error,
                        size_t error_capacity) {
    DcmTag tag(group, element);
    if (vr != nullptr) tag.setVR(DcmVR(vr));
    OFCondition status = file->format.getDataset()->putAndInsertString(tag, value);
    if (status.bad()) {
        copy_message(std::string("cannot set ") + tag.toString().c_str() + " (" + status.text() + ")", error, error_capacity);
        return -1;
    }
    return 0;
}

ms_dicom_file *ms_dicom_create(void) { return new ms_dicom_file(); }

int ms_dicom_set_path_string(ms_dicom_file *file, const char *path, const char *value, char *error, size_t error_capacity) {
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
        copy_message(std::string("cannot create ") + path + " (" + (status.bad() ? status.text() : "not an attribute") + ")", error,
                     error_capacity);
        return -1;
    }
    status = element->putString(value);
    if (status.bad()) {
        copy_message(std::string("cannot set ") + path + " (" + status.text() + ")", error, error_capacity);
        return -1;
    }
    return 0;
}

int ms_dicom_set_pixel_data_8bit(ms_dicom_file *file, const uint8_t *pixels, size_t count, char *error, size_t error_capacity) {
    if (count > 0xFFFFFFFEul) {
        copy_message("pixel data over 4 GiB", error, error_capacity);
        return -1;
    }
    OFCondition status = file->format.getDataset()->putAndInsertUint8Array(DCM_PixelData, pixels, OFstatic_cast(unsigned long, count));
    if (status.bad()) {
        copy_message(std::string("cannot set pixel data (") + status.text() + ")", error, error_capacity);
        return -1;
    }
    return 0;
}

int ms_dicom_save(ms_dicom_file *file, const char *path, char *error, size_t error_capacity) {
    E_TransferSyntax xfer = file->format.getDataset()->getOriginalXfer();
    if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
    OFCondition status =
        file->format.saveFile(OFFilename(path), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_withoutPadding, 0, 0, EWM_updateMeta);
    if (status.bad()) {
        copy_message(std::string("cannot write DICOM (") + status.text() + ")", error, error_capacity);
        return -1;
    }
    return 0;
}

}  // extern "C"
