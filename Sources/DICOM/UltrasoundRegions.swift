/// One item of the Sequence of Ultrasound Regions (0018,6011): where on the
/// frame an image of one kind lies (PS3.3 C.8.5.5.1). Corners are pixel
/// columns and rows, both inclusive, from (0, 0) at the top left.
public struct UltrasoundRegion: Equatable, Sendable {
    /// Region Spatial Format (0018,6012): 1 is a 2D image, 2 M-mode,
    /// 3 spectral, 4 waveform, 5 graphics.
    public var spatialFormat: Int
    /// Region Data Type (0018,6014): 1 is tissue, 2 colour flow, 3 and 4
    /// pulsed and continuous wave Doppler, 5 and above traces and bars.
    public var dataType: Int
    public var minX0: Int
    public var minY0: Int
    public var maxX1: Int
    public var maxY1: Int

    public init(spatialFormat: Int, dataType: Int, minX0: Int, minY0: Int, maxX1: Int, maxY1: Int) {
        self.spatialFormat = spatialFormat
        self.dataType = dataType
        self.minX0 = minX0
        self.minY0 = minY0
        self.maxX1 = maxX1
        self.maxY1 = maxY1
    }

    /// A 2D tissue image: the region a B-mode model trains on.
    public var isTissueImage: Bool { spatialFormat == 1 && dataType == 1 }

    /// More items than any scanner writes: a file with more is not believed
    /// (each item is read by a walk from the sequence's start).
    public static let mostItems = 64
}

extension DicomFile {
    /// The regions that apply to frame `frame`: those of the frame's item of
    /// the Per-frame Functional Groups Sequence when it carries them, else of
    /// the Shared Functional Groups, else of the top-level sequence. Items
    /// that lack a location or a format are left out; an empty list means
    /// the file states no regions; nil, more than `UltrasoundRegion.mostItems`.
    public func ultrasoundRegions(frame: Int) -> [UltrasoundRegion]? {
        let regions = DicomTag.sequenceOfUltrasoundRegions
        let candidates = [
            DicomPath(.perFrameFunctionalGroupsSequence).item(frame, regions),
            DicomPath(.sharedFunctionalGroupsSequence).item(0, regions),
            DicomPath(regions),
        ]
        guard let sequence = candidates.first(where: { itemCount(at: $0) != nil }), let count = itemCount(at: sequence) else {
            return []
        }
        guard count <= UltrasoundRegion.mostItems else { return nil }
        return (0..<count).compactMap { region(at: sequence, item: $0) }
    }

    /// True when the file states regions per frame (its first per-frame
    /// functional group carries a Sequence of Ultrasound Regions): then each
    /// frame's are read.
    public var hasPerFrameUltrasoundRegions: Bool {
        itemCount(at: DicomPath(.perFrameFunctionalGroupsSequence).item(0, .sequenceOfUltrasoundRegions)) != nil
    }

    private func region(at sequence: DicomPath, item: Int) -> UltrasoundRegion? {
        func value(_ tag: DicomTag) -> Int? { integer(at: sequence.item(item, tag)) }
        guard let format = value(.regionSpatialFormat), let x0 = value(.regionLocationMinX0),
            let y0 = value(.regionLocationMinY0), let x1 = value(.regionLocationMaxX1), let y1 = value(.regionLocationMaxY1)
        else { return nil }
        return UltrasoundRegion(spatialFormat: format, dataType: value(.regionDataType) ?? 0, minX0: x0, minY0: y0, maxX1: x1, maxY1: y1)
    }
}
