import Catalog
import DICOM
import Foundation
import Imaging
import ModelStore

/// The labels of a labelled model's DICOM frames as DICOM objects beside
/// them, one per synthetic image file and named after it: for masks, a
/// binary Segmentation (`synthetic-NNNNNN-seg.dcm`) whose frames derive from
/// the image's frames; for keypoints, a Comprehensive SR
/// (`synthetic-NNNNNN-sr.dcm`) with one SCOORD POINT per keypoint, selected
/// from its frame. Each carries the frames' synthetic patient and study, a
/// series of its own, and the same provenance marks (Synthetic Data YES, the
/// Synthesizing Equipment item naming the model): nothing of a training
/// instance (docs/provenance.md).
enum LabelObjects {
    static let segmentationSuffix = "-seg.dcm"
    static let reportSuffix = "-sr.dcm"

    /// The file holding the labels of image file `imageFile` ("synthetic-000004.dcm").
    static func file(of imageFile: String, kind: LabelChannels.Kind) -> String {
        String(imageFile.dropLast(".dcm".count)) + (kind == .masks ? segmentationSuffix : reportSuffix)
    }

    /// The image file `name` labels, when it is a label object's name.
    static func imageFile(labelledBy name: String) -> String? {
        [segmentationSuffix, reportSuffix].first(where: name.hasSuffix).map { String(name.dropLast($0.count)) + ".dcm" }
    }

    /// Writes the label object of every image file of `result` and adds the files to `result.labelObjects`.
    static func write(into result: inout SynthesisResult, labels: LabelReading, series: SyntheticSeries) throws {
        let byLatent = Dictionary(uniqueKeysWithValues: zip(result.writtenLatentIndices, result.writtenLabels))
        for (number, (imageFile, instance)) in zip(result.files, result.instances).enumerated() {
            let name = file(of: imageFile, kind: labels.record.kind)
            let frames = instance.latentIndices.map { byLatent[$0]!.annotation }
            try OutputFolder.publish(result.folder.appendingPathComponent(name).path) { partial in
                let object =
                    labels.record.kind == .masks
                    ? try segmentation(frames, of: instance, labels: labels, series: series, instanceNumber: number + 1, at: partial)
                    : try report(frames, of: instance, series: series, instanceNumber: number + 1, at: partial)
                for (attribute, value) in attributes(series: series, latentIndices: instance.latentIndices) {
                    try object.setString(atPath: attribute.description, value)
                }
                try object.setString(.syntheticData, "YES", vr: "CS")
                try object.save(to: partial)
            }
            result.labelObjects.append(name)
        }
    }

    /// The Segmentation of `frames`' masks over the frames of `instance`:
    /// one segment, the model's label set, drawn by the model (AUTOMATIC),
    /// under medsynth's own codes, since a label set's meaning is the user's.
    static func segmentation(
        _ frames: [FrameAnnotation], of instance: GeneratedInstance, labels: LabelReading, series: SyntheticSeries, instanceNumber: Int,
        at path: String
    ) throws -> DicomFile {
        let segmented = frames.enumerated().compactMap { frame, annotation in
            annotation.mask.map {
                SegmentedFrame(
                    sopClassUID: SyntheticDicomWriter.sopClassUID, sopInstanceUID: instance.sopInstanceUid, frameNumber: frame + 1, mask: $0
                )
            }
        }
        let labelSet = SyntheticDicomWriter.text(labels.record.labelSet)
        let description = SegmentationDescription(
            rows: labels.side, columns: labels.side, segmentLabel: labelSet,
            algorithmName: String("medsynth GAN \(SyntheticDicomWriter.text(series.modelName))".prefix(64)),
            category: CodedConcept("LABEL-SET", scheme, "medsynth label set"),
            type: CodedConcept("LABEL-SET", scheme, String(labelSet.prefix(64))),
            manufacturer: SyntheticDicomWriter.manufacturer, modelName: "medsynth GAN \(series.preset)",
            deviceSerialNumber: String(series.checkpointDigest.prefix(16)), softwareVersions: SoftwareVersion.current,
            instanceNumber: instanceNumber, contentLabel: "MEDSYNTH_LABELS",
            contentDescription: String("Labels drawn with synthetic frames by \(SyntheticDicomWriter.text(series.modelName))".prefix(64)))
        let file = try DicomFile(segmentation: description, frames: segmented, destination: path)
        // General Image's Type 2C (the orientation of a generated frame is unknown) and the image referenced.
        let referenced = DicomPath(.referencedSeriesSequence), instances = referenced.item(0, .referencedInstanceSequence)
        for (attribute, value) in [
            (DicomPath(.patientOrientation), ""), (referenced.item(0, .seriesInstanceUID), series.seriesInstanceUID),
            (instances.item(0, .referencedSOPClassUID), SyntheticDicomWriter.sopClassUID),
            (instances.item(0, .referencedSOPInstanceUID), instance.sopInstanceUid),
        ] {
            try file.setString(atPath: attribute.description, value)
        }
        return file
    }

    /// The report of `frames`' keypoints on the frames of `instance`, each
    /// named by a code of medsynth's scheme whose meaning is the keypoint's
    /// name, at DICOM's image coordinates (the keypoint's + 0.5: DICOM puts
    /// the top left pixel's centre at 0.5, 0.5).
    static func report(
        _ frames: [FrameAnnotation], of instance: GeneratedInstance, series: SyntheticSeries, instanceNumber: Int, at path: String
    )
        throws -> DicomFile
    {
        let points = frames.enumerated().flatMap { frame, annotation in
            annotation.keypoints.enumerated().filter { $0.element.isLabelled }.map { index, keypoint in
                ReportedPoint(
                    sopClassUID: SyntheticDicomWriter.sopClassUID, sopInstanceUID: instance.sopInstanceUid, frameNumber: frame + 1,
                    name: CodedConcept("KEYPOINT-\(index + 1)", scheme, String(SyntheticDicomWriter.text(keypoint.name).prefix(64))),
                    column: keypoint.x + 0.5, row: keypoint.y + 0.5)
            }
        }
        let file = try DicomFile(
            pointReport: CodedConcept("KEYPOINTS", scheme, "Keypoints drawn with synthetic frames"), studyUID: series.studyInstanceUID,
            seriesUID: series.seriesInstanceUID, points: points, destination: path)
        for (tag, value): (DicomTag, String) in [
            (.manufacturer, SyntheticDicomWriter.manufacturer), (.instanceNumber, String(instanceNumber)),
            (.softwareVersions, SoftwareVersion.current),
        ] {
            try file.setString(tag, value)
        }
        return file
    }

    /// medsynth's own coding scheme, for what only the user's label set names.
    static let scheme = "99MEDSYNTH"

    /// The synthetic patient and study, the labels' series, the moment, and the Synthesizing Equipment item.
    static func attributes(series: SyntheticSeries, latentIndices: [Int]) -> [(DicomPath, String)] {
        let stamps = SyntheticDicomWriter.timestamps(series.createdAt)
        let own: [(DicomTag, String)] = [
            (.sopInstanceUID, DicomUID.make()),
            (.instanceCreationDate, stamps.date), (.instanceCreationTime, stamps.time), (.timezoneOffsetFromUTC, "+0000"),
            (.contentDate, stamps.date), (.contentTime, stamps.time),
            (.seriesInstanceUID, series.labelSeriesInstanceUID), (.seriesNumber, "2"),
            (.seriesDescription, String("Labels of synthetic frames from \(SyntheticDicomWriter.text(series.modelName))".prefix(64))),
        ]
        return (SyntheticDicomWriter.patientAndStudy(series, stamps: stamps) + own).map { (DicomPath($0.0), $0.1) }
            + SyntheticDicomWriter.contributingEquipment(
                series, latentIndices: latentIndices, dateTime: stamps.dateTime, subject: "Labels of a synthetic image")
    }
}
