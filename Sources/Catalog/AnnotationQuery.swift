import Foundation
import GRDB

extension Catalog {
    /// The columns `query annotations` lists (the stable keys of its `--json`).
    static let annotationColumns: [(name: String, sql: String)] = [
        ("sop_instance_uid", "i.sop_instance_uid"), ("frame_number", "a.frame_number"), ("label_set", "l.name"),
        ("keypoints", "a.keypoints"), ("mask", "a.mask IS NOT NULL"), ("source", "src.kind"), ("source_path", "src.path"),
        ("entry", "a.entry"), ("series_instance_uid", "s.series_instance_uid"), ("patient_id", "p.patient_id"),
        ("modality", "s.modality"),
    ]

    /// The annotations of the frames of the instances that pass `filter`,
    /// frame by frame in the order `query instances` lists the instances.
    /// Keypoints are COCO's flat `[x, y, v, ...]` in the frame's pixels, as imported.
    func annotations(_ filter: QueryFilter) throws -> Table {
        let columns = Self.annotationColumns
        let (conditions, arguments) = Self.conditions(filter)
        let sql = Self.instanceSelection(
            columns.map(\.sql), conditions, "", Self.instanceOrder + ", a.frame_number, a.id",
            joining: """
                JOIN annotations a ON a.instance_id = i.id JOIN label_sets l ON l.id = a.label_set_id
                JOIN annotation_sources src ON src.id = a.source_id
                """)
        let rows = try read { db in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)) }
        return Table(
            columns: columns.map(\.name),
            rows: rows.map { row in
                columns.indices.map { index in
                    switch columns[index].name {
                    case "keypoints":
                        let text: String? = row[index]
                        return text.flatMap(AnnotationRecord.keypointValues(json:)).map { .numbers($0) } ?? .null
                    case "mask": return Self.value(row[index], boolean: true)
                    default: return Self.value(row[index], boolean: false)
                    }
                }
            })
    }

    /// The annotations of frame `frameNumber` (from 1) of an instance, each with its label set.
    public func annotations(sopInstanceUID: String, frameNumber: Int) throws -> [(annotation: AnnotationRecord, labelSet: LabelSetRecord)] {
        try read { db in
            try Self.withLabelSets(
                AnnotationRecord.filter(
                    Column("sop_instance_uid") == sopInstanceUID && Column("frame_number") == frameNumber && Column("instance_id") != nil
                ).order(Column("id")).fetchAll(db), db)
        }
    }

    /// Each of `annotations` with its label set.
    private static func withLabelSets(
        _ annotations: [AnnotationRecord], _ db: Database
    ) throws -> [(annotation: AnnotationRecord, labelSet: LabelSetRecord)] {
        let labelSets = try LabelSetRecord.filter(keys: Set(annotations.map(\.labelSetId))).fetchAll(db)
        let byID = Dictionary(uniqueKeysWithValues: labelSets.compactMap { set in set.id.map { ($0, set) } })
        return annotations.compactMap { annotation in byID[annotation.labelSetId].map { (annotation, $0) } }
    }
}

extension Catalog {
    /// The annotations linked to the instances `instanceIDs` (keypoints,
    /// masks or both), each with its label set, by instance, frame and id.
    public func linkedAnnotations(instanceIDs: [Int64]) throws -> [(annotation: AnnotationRecord, labelSet: LabelSetRecord)] {
        try read { db in
            try Self.withLabelSets(
                AnnotationRecord.filter(instanceIDs.contains(Column("instance_id")))
                    .order(Column("instance_id"), Column("frame_number"), Column("id")).fetchAll(db), db)
        }
    }
}
