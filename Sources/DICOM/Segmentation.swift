/// What a DICOM Segmentation instance (PS3.3 A.51) labels: for each of its
/// frames, the segment and the source frame it belongs to (the per-frame
/// functional groups' Segment Identification and Derivation Image, else the
/// shared ones), and the mask. Read in the decode worker with the rest of the
/// metadata; the import links the masks to the frames they reference.
public struct SegmentationContent: Codable, Sendable, Equatable {
    public struct Segment: Codable, Sendable, Equatable {
        public var number: Int
        public var label: String
    }

    /// One frame of the segmentation: a segment's mask on one source frame.
    public struct LabelledFrame: Codable, Sendable, Equatable {
        /// The segmentation's own frame, from 1.
        public var segmentationFrame: Int
        public var segmentNumber: Int
        public var sopInstanceUID: String
        /// The source frame, from 1; nil when the reference names no frame
        /// (the source instance has a single frame).
        public var frameNumber: Int?
        public var mask: LabelMask

        /// How import names the entry: "segment 1, frame 2".
        public var entry: String { "segment \(segmentNumber), frame \(segmentationFrame)" }
    }

    public var segments: [Segment]
    /// The frames whose mask is not empty.
    public var frames: [LabelledFrame]
}

extension SegmentationContent {
    /// Reads the segments, the references and the masks of `file`, a
    /// Segmentation whose pixel data was checked. A fractional mask is set
    /// where the value reaches half the Maximum Fractional Value. Throws
    /// `DicomError` naming the entry when a reference or segment is missing.
    public init(file: DicomFile) throws {
        let geometry = file.geometry
        let segmentCount = file.itemCount(at: DicomPath(.segmentSequence)) ?? 0
        segments = (0..<segmentCount).compactMap { index in
            file.integer(at: DicomPath(.segmentSequence).item(index, .segmentNumber)).map { number in
                Segment(
                    number: number, label: file.string(at: DicomPath(.segmentSequence).item(index, .segmentLabel)) ?? "segment \(number)")
            }
        }
        guard !segments.isEmpty else { throw DicomError("a Segmentation without a Segment Sequence", path: file.path) }
        let fractional = file.string(.segmentationType)?.uppercased() == "FRACTIONAL"
        let maximum = max(1, file.integer(.maximumFractionalValue) ?? 255)
        frames = []
        for index in 0..<geometry.frames {
            let reference = try Self.reference(ofFrame: index, in: file, segments: segments)
            let samples = try file.storedSamples(ofFrame: index)
            let pixels = samples.map { UInt8(fractional ? ($0 * 2 >= maximum ? 1 : 0) : ($0 > 0 ? 1 : 0)) }
            let mask = LabelMask(rows: geometry.rows, columns: geometry.columns, pixels: pixels)
            guard mask.runs.count > 1 else { continue }
            frames.append(
                LabelledFrame(
                    segmentationFrame: index + 1, segmentNumber: reference.segment, sopInstanceUID: reference.uid,
                    frameNumber: reference.frame, mask: mask))
        }
    }

    /// The segment and source frame of frame `index` (from 0): its own
    /// functional groups first, then the shared ones.
    private static func reference(ofFrame index: Int, in file: DicomFile, segments: [Segment]) throws -> (
        segment: Int, uid: String, frame: Int?
    ) {
        let groups = [
            DicomPath(.perFrameFunctionalGroupsSequence).item(index, .segmentIdentificationSequence),
            DicomPath(.sharedFunctionalGroupsSequence).item(0, .segmentIdentificationSequence),
        ]
        let entry = "frame \(index + 1) of the Segmentation"
        guard let segment = groups.lazy.compactMap({ file.integer(at: $0.item(0, .referencedSegmentNumber)) }).first else {
            throw DicomError("\(entry): no Segment Identification Sequence names its segment", path: file.path)
        }
        guard segments.contains(where: { $0.number == segment }) else {
            throw DicomError("segment \(segment), \(entry): the Segment Sequence has no segment \(segment)", path: file.path)
        }
        let sources = [
            DicomPath(.perFrameFunctionalGroupsSequence).item(index, .derivationImageSequence),
            DicomPath(.sharedFunctionalGroupsSequence).item(0, .derivationImageSequence),
        ].map { $0.item(0, .sourceImageSequence) }
        guard let source = sources.first(where: { file.string(at: $0.item(0, .referencedSOPInstanceUID)) != nil }),
            let uid = file.string(at: source.item(0, .referencedSOPInstanceUID))
        else {
            throw DicomError(
                "segment \(segment), \(entry): no Derivation Image Sequence names the frame it labels", path: file.path)
        }
        let frame = file.integer(at: source.item(0, .referencedFrameNumber))
        return (segment, uid, frame)
    }
}
