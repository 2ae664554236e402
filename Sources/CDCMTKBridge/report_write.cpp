// A Comprehensive SR of points on image frames, built by DCMTK's dcmsr, which
// checks the content tree's relationships and writes the SR modules
// (ms_dicom_label_objects.h).

#include "ms_dicom_label_objects.h"

#include "bridge_internal.h"
#include "dicom_handle.h"

#include "dcmtk/dcmsr/dsrdoc.h"

#include <memory>
#include <string>

namespace {

DSRCodedEntryValue concept(const char *const parts[3]) { return DSRCodedEntryValue(parts[0], parts[1], parts[2]); }

/// Adds `point` below the current content item (the root container): its
/// SCOORD, and below it the IMAGE it was selected from. False with the reason.
bool add_point(DSRDocumentTree &tree, const ms_report_point &point, OFBool first, std::string &reason) {
    OFCondition status = first ? tree.addChildContentItem(DSRTypes::RT_contains, DSRTypes::VT_SCoord, concept(point.name))
                               : tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_SCoord, concept(point.name));
    DSRSpatialCoordinatesValue coordinates(DSRTypes::GT_Point);
    coordinates.getGraphicDataList().addItem(point.column, point.row);
    if (status.good()) status = tree.getCurrentContentItem().setSpatialCoordinates(coordinates);
    if (status.good()) status = tree.addChildContentItem(DSRTypes::RT_selectedFrom, DSRTypes::VT_Image, DSRCodedEntryValue());
    DSRImageReferenceValue image(point.sop_class_uid, point.sop_instance_uid);
    image.getFrameList().addItem(point.frame_number);
    if (status.good()) status = tree.getCurrentContentItem().setImageReference(image);
    if (status.bad()) {
        reason = std::string("cannot place ") + point.name[2] + " on frame " + std::to_string(point.frame_number) + " of " +
                 point.sop_instance_uid + " (" + status.text() + ")";
        return false;
    }
    tree.goUp();
    return true;
}

}  // namespace

extern "C" {

ms_dicom_file *ms_point_report_create(const char *const title[3], const char *study_uid, const char *series_uid,
                                      const ms_report_point *points, size_t count, char *error, size_t error_capacity) {
    DSRDocument document(DSRTypes::DT_ComprehensiveSR);
    DSRDocumentTree &tree = document.getTree();
    std::string reason;
    if (tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container) == 0 ||
        tree.getCurrentContentItem().setConceptName(concept(title)).bad()) {
        copy_message("cannot make the report's root container", error, error_capacity);
        return nullptr;
    }
    for (size_t index = 0; index < count; index++) {
        if (!add_point(tree, points[index], index == 0, reason)) {
            copy_message(reason, error, error_capacity);
            return nullptr;
        }
        OFCondition listed = document.getCurrentRequestedProcedureEvidence().addItem(study_uid, series_uid, points[index].sop_class_uid,
                                                                                     points[index].sop_instance_uid);
        if (listed.bad()) {
            copy_message(std::string("cannot list ") + points[index].sop_instance_uid + " as evidence (" + listed.text() + ")", error,
                         error_capacity);
            return nullptr;
        }
    }
    OFCondition status = document.completeDocument();
    auto file = std::make_unique<ms_dicom_file>();
    if (status.good()) status = document.write(*file->format.getDataset());
    if (status.bad()) {
        copy_message(std::string("cannot write the report (") + status.text() + ")", error, error_capacity);
        return nullptr;
    }
    return file.release();
}

}  // extern "C"
