import DICOM
import Foundation
import GRDB

/// A kind of labelled object, stored once (a COCO category, a segment of a
/// DICOM Segmentation): its keypoints by name, in order, and the skeleton
/// that joins them.
public struct LabelSetRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var name: String
    public var supercategory: String?
    /// JSON array of names; `[]` for a label set of masks only.
    public var keypointNames: String
    /// JSON array of pairs of keypoint numbers, from 1 as COCO counts.
    public var skeleton: String

    package init(id: Int64? = nil, name: String, supercategory: String?, keypointNames: [String], skeleton: [[Int]]) {
        self.id = id
        self.name = name
        self.supercategory = supercategory
        self.keypointNames = Self.json(keypointNames)
        self.skeleton = Self.json(skeleton)
    }

    /// The keypoint names, in order.
    public var keypoints: [String] { (try? JSONDecoder().decode([String].self, from: Data(keypointNames.utf8))) ?? [] }

    /// The skeleton's pairs of keypoint numbers, from 1.
    public var skeletonPairs: [[Int]] { (try? JSONDecoder().decode([[Int]].self, from: Data(skeleton.utf8))) ?? [] }

    /// No keypoint names and no skeleton: a label set of masks (as a
    /// Segmentation's segment makes one), which a COCO file may give keypoints.
    public var isMasksOnly: Bool { keypoints.isEmpty && skeletonPairs.isEmpty }

    private static func json(_ value: some Encodable) -> String {
        // Encoding arrays of strings and integers cannot fail.
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("[]".utf8), as: UTF8.self)
    }
}

/// Where annotations came from.
public enum AnnotationSourceKind: String, Codable, Sendable, DatabaseValueConvertible {
    /// A COCO JSON file; its managed copy is kept.
    case coco
    /// A DICOM Segmentation instance, catalogued as an instance too.
    case seg
}

/// A file annotations came from.
public struct AnnotationSourceRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var kind: AnnotationSourceKind
    /// Where it was imported from.
    public var path: String
    public var sha256: String
    /// Its managed copy, relative to the catalog folder.
    public var storedPath: String
    /// The SEG instance's row, for a DICOM Segmentation.
    public var instanceId: Int64?
    public var importRunId: Int64

    package init(
        id: Int64? = nil, kind: AnnotationSourceKind, path: String, sha256: String, storedPath: String, instanceId: Int64? = nil,
        importRunId: Int64
    ) {
        self.id = id
        self.kind = kind
        self.path = path
        self.sha256 = sha256
        self.storedPath = storedPath
        self.instanceId = instanceId
        self.importRunId = importRunId
    }
}

/// One labelled object on one frame: keypoints, a mask, or both.
public struct AnnotationRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var sourceId: Int64
    /// Where in the source it was: "annotation 7", "segment 1, frame 2".
    public var entry: String
    public var labelSetId: Int64
    public var sopInstanceUid: String
    /// From 1, as DICOM counts frames.
    public var frameNumber: Int
    /// The labelled instance's row; nil while a Segmentation waits for it.
    public var instanceId: Int64?
    /// JSON `[x, y, v, ...]` in the frame's pixels, (0, 0) the centre of the top-left pixel.
    public var keypoints: String?
    /// `LabelMask.encoded`.
    public var mask: Data?
    public var maskRows: Int?
    public var maskColumns: Int?

    package init(
        id: Int64? = nil, sourceId: Int64, entry: String, labelSetId: Int64, sopInstanceUid: String, frameNumber: Int,
        instanceId: Int64?, keypoints: [Double]?, mask: LabelMask?
    ) {
        self.id = id
        self.sourceId = sourceId
        self.entry = entry
        self.labelSetId = labelSetId
        self.sopInstanceUid = sopInstanceUid
        self.frameNumber = frameNumber
        self.instanceId = instanceId
        self.keypoints = keypoints.map(Self.json)
        self.mask = mask?.encoded
        self.maskRows = mask?.rows
        self.maskColumns = mask?.columns
    }

    /// The flat keypoint triples, as imported.
    public var keypointValues: [Double]? { keypoints.flatMap(Self.keypointValues(json:)) }

    /// The mask, read back from its runs.
    public var labelMask: LabelMask? {
        guard let mask, let maskRows, let maskColumns else { return nil }
        return LabelMask(rows: maskRows, columns: maskColumns, encoded: mask)
    }

    /// The numbers of a `keypoints` column.
    static func keypointValues(json: String) -> [Double]? {
        try? JSONDecoder().decode([Double].self, from: Data(json.utf8))
    }

    /// Shortest decimal that reads back as the same number (12.5, 3, 0.1).
    private static func json(_ values: [Double]) -> String {
        "[" + values.map(Table.number).joined(separator: ",") + "]"
    }
}

extension LabelSetRecord: CatalogRecord { public static let databaseTableName = "label_sets" }
extension AnnotationSourceRecord: CatalogRecord { public static let databaseTableName = "annotation_sources" }
extension AnnotationRecord: CatalogRecord { public static let databaseTableName = "annotations" }

extension AnnotationRecord {
    /// Whether another source gave the catalog this annotation already: the
    /// same label set on the same frame, with the same keypoints and mask. The
    /// same labels exported twice (as COCO and as a Segmentation, as
    /// `synthesize` writes them) are stored once.
    package func isCatalogued(_ db: Database) throws -> Bool {
        try Self.filter(
            Column("label_set_id") == labelSetId && Column("sop_instance_uid") == sopInstanceUid
                && Column("frame_number") == frameNumber && Column("keypoints") == keypoints && Column("mask") == mask
                && Column("source_id") != sourceId
        ).fetchCount(db) > 0
    }
}
