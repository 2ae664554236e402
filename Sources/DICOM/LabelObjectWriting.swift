import Foundation

/// A code of a coded concept: (code value, coding scheme designator, code meaning).
public struct CodedConcept: Sendable, Equatable {
    public var value: String
    public var scheme: String
    public var meaning: String

    public init(_ value: String, _ scheme: String, _ meaning: String) {
        (self.value, self.scheme, self.meaning) = (value, scheme, meaning)
    }
}

/// What a binary Segmentation of one segment says about itself (`DicomFile(segmentation:...)`).
public struct SegmentationDescription: Sendable {
    public var rows: Int
    public var columns: Int
    /// Segment Label (LO).
    public var segmentLabel: String
    /// Segment Algorithm Name: the segment is AUTOMATIC.
    public var algorithmName: String
    public var category: CodedConcept
    public var type: CodedConcept
    public var manufacturer: String
    public var modelName: String
    public var deviceSerialNumber: String
    public var softwareVersions: String
    public var instanceNumber: Int
    /// Content Label (CS: upper case, digits, space, underscore).
    public var contentLabel: String
    public var contentDescription: String

    public init(
        rows: Int, columns: Int, segmentLabel: String, algorithmName: String, category: CodedConcept, type: CodedConcept,
        manufacturer: String, modelName: String, deviceSerialNumber: String, softwareVersions: String, instanceNumber: Int,
        contentLabel: String, contentDescription: String
    ) {
        (self.rows, self.columns, self.segmentLabel, self.algorithmName) = (rows, columns, segmentLabel, algorithmName)
        (self.category, self.type) = (category, type)
        (self.manufacturer, self.modelName, self.deviceSerialNumber) = (manufacturer, modelName, deviceSerialNumber)
        self.softwareVersions = softwareVersions
        (self.instanceNumber, self.contentLabel, self.contentDescription) = (instanceNumber, contentLabel, contentDescription)
    }
}

/// One frame of a Segmentation to write: a mask over frame `frameNumber`
/// (from 1) of an image instance.
public struct SegmentedFrame: Sendable {
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var frameNumber: Int
    public var mask: LabelMask

    public init(sopClassUID: String, sopInstanceUID: String, frameNumber: Int, mask: LabelMask) {
        (self.sopClassUID, self.sopInstanceUID, self.frameNumber, self.mask) = (sopClassUID, sopInstanceUID, frameNumber, mask)
    }
}

extension DicomFile {
    /// A new binary Segmentation (PS3.3 A.51) of one segment, made by DCMTK's
    /// dcmseg: one frame per entry of `frames`, each deriving from its source
    /// frame, in their order. Patient, study and series attributes are to be
    /// set before `save(to:)`. Throws `DicomError` naming `destination`.
    public convenience init(segmentation description: SegmentationDescription, frames: [SegmentedFrame], destination: String) throws {
        initializeDCMTK()
        guard frames.allSatisfy({ $0.mask.rows == description.rows && $0.mask.columns == description.columns }) else {
            throw DicomError("a mask is not \(description.columns)x\(description.rows)", path: destination)
        }
        let strings = CStringCopies()
        let pixels = frames.map(\.mask.pixels)
        let (made, message) = withErrorBuffer { buffer, capacity in
            withExtendedLifetime((strings, pixels)) {
                let sources = zip(frames, pixels).map { frame, mask in
                    ms_segmentation_frame(
                        sop_class_uid: strings.copy(frame.sopClassUID), sop_instance_uid: strings.copy(frame.sopInstanceUID),
                        frame_number: Int32(clamping: frame.frameNumber), mask: mask.withUnsafeBufferPointer { $0.baseAddress })
                }
                func code(_ concept: CodedConcept) -> (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) {
                    (strings.copy(concept.value), strings.copy(concept.scheme), strings.copy(concept.meaning))
                }
                var cDescription = ms_segmentation_description(
                    rows: UInt16(clamping: description.rows), columns: UInt16(clamping: description.columns),
                    segment_label: strings.copy(description.segmentLabel), algorithm_name: strings.copy(description.algorithmName),
                    category: code(description.category), type: code(description.type),
                    manufacturer: strings.copy(description.manufacturer), model_name: strings.copy(description.modelName),
                    device_serial_number: strings.copy(description.deviceSerialNumber),
                    software_versions: strings.copy(description.softwareVersions),
                    instance_number: strings.copy(String(description.instanceNumber)),
                    content_label: strings.copy(description.contentLabel),
                    content_description: strings.copy(description.contentDescription))
                return sources.withUnsafeBufferPointer { ms_segmentation_create(&cDescription, $0.baseAddress, $0.count, buffer, capacity) }
            }
        }
        guard let made else { throw DicomError(message, path: destination) }
        self.init(handle: made, destination: destination)
    }
}

/// A named point on an image frame, for a point report (`DicomFile(pointReport:...)`).
public struct ReportedPoint: Sendable {
    public var sopClassUID: String
    public var sopInstanceUID: String
    /// From 1.
    public var frameNumber: Int
    public var name: CodedConcept
    /// DICOM image coordinates: from the top left corner of the top left
    /// pixel, whose centre is (0.5, 0.5).
    public var column: Double
    public var row: Double

    public init(sopClassUID: String, sopInstanceUID: String, frameNumber: Int, name: CodedConcept, column: Double, row: Double) {
        (self.sopClassUID, self.sopInstanceUID, self.frameNumber) = (sopClassUID, sopInstanceUID, frameNumber)
        (self.name, self.column, self.row) = (name, column, row)
    }
}

extension DicomFile {
    /// A new Comprehensive SR (PS3.3 A.35.3), made by DCMTK's dcmsr: a root
    /// container `title` that CONTAINS one SCOORD POINT per entry of `points`,
    /// each SELECTED FROM its image frame, the images listed as evidence in
    /// study `studyUID`, series `seriesUID`. Patient, study and series
    /// attributes are to be set before `save(to:)`. Throws `DicomError` naming `destination`.
    public convenience init(
        pointReport title: CodedConcept, studyUID: String, seriesUID: String, points: [ReportedPoint], destination: String
    ) throws {
        initializeDCMTK()
        let strings = CStringCopies()
        let (made, message) = withErrorBuffer { buffer, capacity in
            withExtendedLifetime(strings) {
                let cPoints = points.map { point in
                    ms_report_point(
                        sop_class_uid: strings.copy(point.sopClassUID), sop_instance_uid: strings.copy(point.sopInstanceUID),
                        frame_number: Int32(clamping: point.frameNumber),
                        name: (strings.copy(point.name.value), strings.copy(point.name.scheme), strings.copy(point.name.meaning)),
                        column: Float(point.column), row: Float(point.row))
                }
                let cTitle: [UnsafePointer<CChar>?] = [strings.copy(title.value), strings.copy(title.scheme), strings.copy(title.meaning)]
                return cTitle.withUnsafeBufferPointer { titleParts in
                    cPoints.withUnsafeBufferPointer {
                        ms_point_report_create(
                            titleParts.baseAddress, strings.copy(studyUID), strings.copy(seriesUID), $0.baseAddress, $0.count, buffer,
                            capacity)
                    }
                }
            }
        }
        guard let made else { throw DicomError(message, path: destination) }
        self.init(handle: made, destination: destination)
    }
}
