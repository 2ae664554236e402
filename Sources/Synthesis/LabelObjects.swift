import DICOM
import Foundation
import Imaging

/// The labels of a labelled model's DICOM frames as DICOM objects beside
/// them, one per synthetic image file and named after it: for masks, a
/// binary Segmentation (`synthetic-NNNNNN-seg.dcm`) whose frames derive from
/// the image's frames. Each carries the frames' synthetic patient and study,
/// a series of its own, and the same provenance marks (Synthetic Data YES,
/// the Synthesizing Equipment item naming the model): nothing of a training
/// instance (docs/provenance.md).
enum LabelObjects {
    /// The file holding the labels of image file `imageFile` ("synthetic-000004.dcm").
    static func segmentationFile(of imageFile: String) -> String {
        String(imageFile.dropLast(".dcm".count)) + segmentationSuffix
    }

    static let segmentationSuffix = "-seg.dcm"

    /// Writes a Segmentation for every image file of `result` whose frames
    /// have masks, and adds the files to `result.labelObjects`.
    static func writeSegmentations(into result: inout SynthesisResult, labels: LabelReading, series: SyntheticSeries) throws {
        let masks = Dictionary(
            uniqueKeysWithValues: zip(result.writtenLatentIndices, result.writtenLabels).compactMap { index, decoded in
                decoded.annotation.mask.map { (index, $0) }
            })
        for (number, (file, instance)) in zip(result.files, result.instances).enumerated() {
            let frames = instance.latentIndices.enumerated().compactMap { frame, latentIndex in
                masks[latentIndex].map {
                    SegmentedFrame(
                        sopClassUID: SyntheticDicomWriter.sopClassUID, sopInstanceUID: instance.sopInstanceUid,
                        frameNumber: frame + 1, mask: $0)
                }
            }
            guard !frames.isEmpty else { continue }
            let name = segmentationFile(of: file)
            let path = result.folder.appendingPathComponent(name).path
            try OutputFolder.publish(path) { partial in
                let segmentation = try DicomFile(
                    segmentation: description(labels: labels, series: series, instanceNumber: number + 1), frames: frames,
                    destination: partial)
                for (attribute, value) in attributes(
                    series: series, latentIndices: instance.latentIndices, referencing: instance.sopInstanceUid)
                {
                    try segmentation.setString(atPath: attribute.description, value)
                }
                try segmentation.setString(.syntheticData, "YES", vr: "CS")
                try segmentation.save(to: partial)
            }
            result.labelObjects.append(name)
        }
    }

    /// The Segmentation's segment: the model's label set, drawn by the model
    /// (AUTOMATIC), under medsynth's own codes, since a label set's meaning
    /// is the user's.
    static func description(labels: LabelReading, series: SyntheticSeries, instanceNumber: Int) -> SegmentationDescription {
        SegmentationDescription(
            rows: labels.side, columns: labels.side, segmentLabel: SyntheticDicomWriter.text(labels.record.labelSet),
            algorithmName: String("medsynth GAN \(SyntheticDicomWriter.text(series.modelName))".prefix(64)),
            category: CodedConcept("LABEL-SET", "99MEDSYNTH", "medsynth label set"),
            type: CodedConcept("LABEL-SET", "99MEDSYNTH", String(SyntheticDicomWriter.text(labels.record.labelSet).prefix(64))),
            manufacturer: SyntheticDicomWriter.manufacturer, modelName: "medsynth GAN \(series.preset)",
            deviceSerialNumber: String(series.checkpointDigest.prefix(16)), softwareVersions: SoftwareVersion.current,
            instanceNumber: instanceNumber, contentLabel: "MEDSYNTH_LABELS",
            contentDescription: String("Labels drawn with synthetic frames by \(SyntheticDicomWriter.text(series.modelName))".prefix(64)))
    }

    /// The synthetic patient and study, the labels' series, the moment, the
    /// Synthesizing Equipment item, and the reference to the image labelled.
    static func attributes(series: SyntheticSeries, latentIndices: [Int], referencing imageUID: String) -> [(DicomPath, String)] {
        let stamps = SyntheticDicomWriter.timestamps(series.createdAt)
        let referenced = DicomPath(.referencedSeriesSequence)
        let instances = referenced.item(0, .referencedInstanceSequence)
        let own: [(DicomTag, String)] = [
            (.sopInstanceUID, DicomUID.make()),
            (.instanceCreationDate, stamps.date), (.instanceCreationTime, stamps.time), (.timezoneOffsetFromUTC, "+0000"),
            (.contentDate, stamps.date), (.contentTime, stamps.time),
            // General Image's Type 2C: the orientation of a generated frame is unknown.
            (.patientOrientation, ""),
            (.seriesInstanceUID, series.labelSeriesInstanceUID), (.seriesNumber, "2"),
            (.seriesDescription, String("Labels of synthetic frames from \(SyntheticDicomWriter.text(series.modelName))".prefix(64))),
        ]
        return (SyntheticDicomWriter.patientAndStudy(series, stamps: stamps) + own).map { (DicomPath($0.0), $0.1) }
            + SyntheticDicomWriter.contributingEquipment(
                series, latentIndices: latentIndices, dateTime: stamps.dateTime, subject: "Labels of a synthetic image")
            + [
                (referenced.item(0, .seriesInstanceUID), series.seriesInstanceUID),
                (instances.item(0, .referencedSOPClassUID), SyntheticDicomWriter.sopClassUID),
                (instances.item(0, .referencedSOPInstanceUID), imageUID),
            ]
    }
}
