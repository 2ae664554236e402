import Catalog
import DICOM
import Foundation
import GRDB

/// DICOM Segmentation instances as annotations (docs/catalog.md): each
/// non-empty frame of a Segmentation is a mask of the frame it references.
/// A Segmentation is catalogued as an instance (its managed copy is the
/// source) and its masks as annotations; masks of frames not catalogued yet
/// wait, unlinked, for their instance.
enum SegmentationLinks {
    /// The size of an instance a Segmentation references.
    struct Geometry {
        let rows: Int
        let columns: Int
        let frames: Int
    }

    /// Why the mask of `entry` (on frame `frameNumber` of `uid`, nil when the
    /// reference names no frame) does not fit the instance, or nil.
    static func problem(
        entry: String, uid: String, frameNumber: Int?, maskRows: Int, maskColumns: Int, against geometry: Geometry
    ) -> String? {
        if let number = frameNumber, number < 1 || number > geometry.frames {
            return "\(entry): references frame \(number) of \(uid), which has \(geometry.frames) frame\(geometry.frames == 1 ? "" : "s")"
        }
        if frameNumber == nil, geometry.frames > 1 {
            return "\(entry): references \(uid) without a frame number, but it has \(geometry.frames) frames"
        }
        if maskRows != geometry.rows || maskColumns != geometry.columns {
            return "\(entry): the mask is \(maskColumns)x\(maskRows), but \(uid) is \(geometry.columns)x\(geometry.rows)"
        }
        return nil
    }

    /// The problems of `content` against the referenced instances that are known.
    static func problems(_ content: SegmentationContent, known: [String: Geometry]) -> [String] {
        content.frames.compactMap { frame in
            known[frame.sopInstanceUID].flatMap {
                problem(
                    entry: frame.entry, uid: frame.sopInstanceUID, frameNumber: frame.frameNumber, maskRows: frame.mask.rows,
                    maskColumns: frame.mask.columns, against: $0)
            }
        }
    }

    /// Stores the masks of the Segmentation catalogued as `instance`: its
    /// segments as label sets (found by label, or added), its frames as
    /// annotations, linked to the frames that are catalogued.
    static func store(_ content: SegmentationContent, instance: InstanceRecord, runID: Int64, _ db: Database) throws {
        var source = AnnotationSourceRecord(
            kind: .seg, path: instance.originalPath, sha256: instance.sha256, storedPath: instance.storedPath,
            instanceId: instance.id, importRunId: runID)
        try source.insert(db, onConflict: .ignore)
        guard let sourceID = source.id else { return }  // the same file catalogued under another UID: its masks are stored
        var labelSetIDs: [Int: Int64] = [:]
        for segment in content.segments {
            labelSetIDs[segment.number] = try labelSetID(named: segment.label, db)
        }
        let uids = Set(content.frames.map(\.sopInstanceUID))
        let instances = try InstanceRecord.filter(uids.contains(Column("sop_instance_uid"))).fetchAll(db)
        let ids = Dictionary(instances.map { ($0.sopInstanceUid, $0.id) }, uniquingKeysWith: { first, _ in first })
        for frame in content.frames {
            guard let labelSetID = labelSetIDs[frame.segmentNumber] else { continue }
            var annotation = AnnotationRecord(
                sourceId: sourceID, entry: frame.entry, labelSetId: labelSetID, sopInstanceUid: frame.sopInstanceUID,
                frameNumber: frame.frameNumber ?? 1, instanceId: ids[frame.sopInstanceUID] ?? nil, keypoints: nil,
                mask: frame.mask)
            // A mask a COCO file gave the frame already (synthesize writes both) is stored once.
            if try !annotation.isCatalogued(db) { try annotation.insert(db) }
        }
    }

    /// Links the waiting masks of the instances just catalogued as `instances`.
    /// A mask that does not fit its instance is removed and returned as a
    /// problem of its Segmentation's file.
    static func link(_ instances: [InstanceRecord], _ db: Database) throws -> [ImportProblem] {
        guard !instances.isEmpty else { return [] }
        let byUID = Dictionary(instances.map { ($0.sopInstanceUid, $0) }, uniquingKeysWith: { first, _ in first })
        let waiting = try AnnotationRecord.filter(Column("instance_id") == nil && byUID.keys.contains(Column("sop_instance_uid")))
            .fetchAll(db)
        var problems: [ImportProblem] = []
        for var annotation in waiting {
            guard let instance = byUID[annotation.sopInstanceUid], let rows = annotation.maskRows, let columns = annotation.maskColumns
            else { continue }
            let problem = Self.problem(
                entry: annotation.entry, uid: instance.sopInstanceUid, frameNumber: annotation.frameNumber, maskRows: rows,
                maskColumns: columns, against: Geometry(rows: instance.rows, columns: instance.columns, frames: instance.frames))
            if let problem {
                let path = try AnnotationSourceRecord.fetchOne(db, key: annotation.sourceId)?.path ?? "?"
                problems.append(ImportProblem(path: path, reason: problem + "; this mask was removed"))
                _ = try annotation.delete(db)
            } else {
                annotation.instanceId = instance.id
                try annotation.update(db)
            }
        }
        return problems
    }

    private static func labelSetID(named name: String, _ db: Database) throws -> Int64 {
        if let existing = try LabelSetRecord.filter(Column("name") == name).fetchOne(db), let id = existing.id { return id }
        var record = LabelSetRecord(name: name, supercategory: nil, keypointNames: [], skeleton: [])
        try record.insert(db)
        return record.id!
    }
}
