// A binary Segmentation built by DCMTK's dcmseg, which packs the bits and
// writes the functional groups, the segment and the dimension index as the
// IOD wants them (ms_dicom_label_objects.h).

#include "ms_dicom_label_objects.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmiod/iodutil.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"

#include <memory>
#include <string>
#include <vector>

namespace {

/// "what failed (DCMTK's reason)" into the caller's buffer.
void report(const std::string &what, const OFCondition &status, char *error, size_t error_capacity) {
    copy_message(what + " (" + status.text() + ")", error, error_capacity);
}

CodeSequenceMacro code(const char *const parts[3]) { return CodeSequenceMacro(parts[0], parts[1], parts[2]); }

/// Adds `frame` as the Segmentation's frame `index` + 1: its mask, deriving
/// from its source frame, at in-stack position `index` + 1. False with the reason.
bool add_frame(DcmSegmentation &segmentation, Uint16 segmentNumber, const ms_segmentation_frame &frame, size_t index,
               const ms_segmentation_description *description, char *error, size_t error_capacity) {
    static const CodeSequenceMacro derivation("113076", "DCM", "Segmentation");
    static const CodeSequenceMacro purpose("121322", "DCM", "Source image for image processing operation");
    if (frame.frame_number < 1 || frame.frame_number > 0xFFFF) {
        copy_message("frame number " + std::to_string(frame.frame_number) + " of " + frame.sop_instance_uid + " is out of range", error,
                     error_capacity);
        return false;
    }
    ImageSOPInstanceReferenceMacro source;
    OFCondition status = source.setReferencedSOPClassUID(frame.sop_class_uid);
    if (status.good()) status = source.setReferencedSOPInstanceUID(frame.sop_instance_uid);
    if (status.good()) status = source.addReferencedFrameNumber(OFstatic_cast(Uint16, frame.frame_number));
    if (status.bad()) {
        report(std::string("cannot reference ") + frame.sop_instance_uid, status, error, error_capacity);
        return false;
    }
    OFVector<ImageSOPInstanceReferenceMacro> sources;
    sources.push_back(source);
    std::unique_ptr<FGDerivationImage> derived(FGDerivationImage::createMinimal(sources, "", derivation, purpose));
    FGFrameContent content;
    status = content.setStackID("1");
    if (status.good()) status = content.setInStackPositionNumber(OFstatic_cast(Uint32, index + 1));
    if (status.good()) status = content.setDimensionIndexValues(1, 0);
    if (status.good()) status = content.setDimensionIndexValues(OFstatic_cast(Uint32, index + 1), 1);
    if (!derived || status.bad()) {
        report("cannot describe frame " + std::to_string(index + 1), status, error, error_capacity);
        return false;
    }
    OFVector<FGBase *> groups;
    groups.push_back(derived.get());
    groups.push_back(&content);
    std::vector<Uint8> mask(frame.mask, frame.mask + size_t(description->rows) * description->columns);
    status = segmentation.addFrame(mask.data(), segmentNumber, groups);
    if (status.bad()) {
        report("cannot add frame " + std::to_string(index + 1), status, error, error_capacity);
        return false;
    }
    return true;
}

/// A binary Segmentation of `description`'s size, equipment and content,
/// with its one segment (numbered in `segmentNumber`) and a dimension index
/// by stack position; NULL with the reason.
std::unique_ptr<DcmSegmentation> make_segmentation(const ms_segmentation_description *description, Uint16 &segmentNumber, char *error,
                                                   size_t error_capacity) {
    IODGeneralEquipmentModule::EquipmentInfo equipment(description->manufacturer, description->model_name,
                                                       description->device_serial_number, description->software_versions);
    ContentIdentificationMacro identification(description->instance_number, description->content_label, description->content_description,
                                              "");
    DcmSegmentation *made = nullptr;
    OFCondition status =
        DcmSegmentation::createBinarySegmentation(made, description->rows, description->columns, equipment, identification);
    std::unique_ptr<DcmSegmentation> segmentation(made);
    if (status.bad() || !segmentation) {
        report("cannot create the Segmentation", status, error, error_capacity);
        return nullptr;
    }

    DcmSegment *segment = nullptr;
    status = DcmSegment::create(segment, description->segment_label, code(description->category), code(description->type),
                                DcmSegTypes::SAT_AUTOMATIC, description->algorithm_name);
    if (status.bad()) {
        report("cannot describe the segment", status, error, error_capacity);
        return nullptr;
    }
    status = segmentation->addSegment(segment, segmentNumber);
    if (status.bad()) {
        delete segment;
        report("cannot add the segment", status, error, error_capacity);
        return nullptr;
    }

    // Frames are ordered by their place in the list: one stack, in-stack positions 1, 2, ...
    char organization[100];
    dcmGenerateUniqueIdentifier(organization, SITE_INSTANCE_UID_ROOT);
    IODMultiframeDimensionModule &dimensions = segmentation->getDimensions();
    status = dimensions.addDimensionIndex(DCM_StackID, organization, DCM_FrameContentSequence, "Stack");
    if (status.good()) {
        status = dimensions.addDimensionIndex(DCM_InStackPositionNumber, organization, DCM_FrameContentSequence, "Position in stack");
    }
    if (status.bad()) {
        report("cannot set the dimension index", status, error, error_capacity);
        return nullptr;
    }
    // Secondary Capture frames have no Frame of Reference, so neither has their
    // Segmentation (PS3.3 A.51: the module is required only when the source
    // images have one); dcmiod's rules would otherwise demand its UID.
    segmentation->getRules()->deleteRule(DCM_FrameOfReferenceUID);
    segmentation->getRules()->deleteRule(DCM_PositionReferenceIndicator);
    // dcmseg checks the Segmentation Series module's Type 1 Series Number on writing; the caller sets its own after.
    status = segmentation->getSeries().setSeriesNumber("1");
    if (status.bad()) {
        report("cannot set the series number", status, error, error_capacity);
        return nullptr;
    }
    return segmentation;
}

}  // namespace

extern "C" {

ms_dicom_file *ms_segmentation_create(const ms_segmentation_description *description, const ms_segmentation_frame *frames,
                                      size_t frame_count, char *error, size_t error_capacity) {
    if (frame_count == 0 || frame_count > 0xFFFF) {
        copy_message("a Segmentation needs 1 to 65535 frames", error, error_capacity);
        return nullptr;
    }
    Uint16 segmentNumber = 0;
    std::unique_ptr<DcmSegmentation> segmentation = make_segmentation(description, segmentNumber, error, error_capacity);
    if (!segmentation) return nullptr;
    for (size_t index = 0; index < frame_count; index++) {
        if (!add_frame(*segmentation, segmentNumber, frames[index], index, description, error, error_capacity)) return nullptr;
    }

    auto file = std::make_unique<ms_dicom_file>();
    OFCondition status = segmentation->writeDataset(*file->format.getDataset());
    if (status.bad()) {
        report("cannot write the Segmentation", status, error, error_capacity);
        return nullptr;
    }
    return file.release();
}

}  // extern "C"
