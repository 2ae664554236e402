import DICOM
import GRDB

/// The catalog level `query` lists.
public enum QueryLevel: String, CaseIterable, Sendable {
    case patients, studies, series, instances
    /// Labelled objects on catalogued frames (keypoints, masks).
    case annotations
}

/// Which instances count: real, synthetic or both.
public enum SyntheticFilter: String, CaseIterable, Sendable {
    case yes, no, any
}

/// Filters on the instances a query considers. Patients, studies and series
/// are listed when at least one of their instances passes, with counts of
/// the instances that pass.
public struct QueryFilter: Sendable, Equatable {
    public var modality: String?
    public var synthetic: SyntheticFilter = .any
    /// Patient ID (0010,0020), exactly.
    public var patient: String?
    /// Study Instance UID, exactly.
    public var study: String?
    /// Series Instance UID, exactly.
    public var series: String?
    /// Synthetic instances that `synthesize` wrote from the model of this name.
    public var model: String?

    public init(
        modality: String? = nil, synthetic: SyntheticFilter = .any, patient: String? = nil,
        study: String? = nil, series: String? = nil, model: String? = nil
    ) {
        self.modality = modality
        self.synthetic = synthetic
        self.patient = patient
        self.study = study
        self.series = series
        self.model = model
    }

    /// Whether any filter is set.
    public var selectsSome: Bool { self != QueryFilter() }
}

extension Catalog {
    /// The columns each level lists (the stable keys of `query --json`).
    static let queryColumns: [QueryLevel: [(name: String, sql: String)]] = [
        .patients: [
            ("patient_id", "p.patient_id"), ("patient_name", "p.patient_name"), ("birth_date", "p.birth_date"),
            ("sex", "p.sex"), ("studies", "COUNT(DISTINCT st.id)"), ("series", "COUNT(DISTINCT s.id)"),
            ("instances", "COUNT(*)"), ("frames", "SUM(i.frames)"),
        ],
        .studies: [
            ("study_instance_uid", "st.study_instance_uid"), ("patient_id", "p.patient_id"),
            ("study_date", "st.study_date"), ("study_time", "st.study_time"), ("description", "st.description"),
            ("accession_number", "st.accession_number"), ("series", "COUNT(DISTINCT s.id)"),
            ("instances", "COUNT(*)"), ("frames", "SUM(i.frames)"),
        ],
        .series: [
            ("series_instance_uid", "s.series_instance_uid"), ("study_instance_uid", "st.study_instance_uid"),
            ("patient_id", "p.patient_id"), ("modality", "s.modality"), ("series_number", "s.series_number"),
            ("description", "s.description"), ("body_part", "s.body_part"), ("instances", "COUNT(*)"),
            ("frames", "SUM(i.frames)"),
        ],
        .instances: [
            ("sop_instance_uid", "i.sop_instance_uid"), ("series_instance_uid", "s.series_instance_uid"),
            ("study_instance_uid", "st.study_instance_uid"), ("patient_id", "p.patient_id"),
            ("modality", "s.modality"), ("sop_class_uid", "i.sop_class_uid"),
            ("instance_number", "i.instance_number"), ("transfer_syntax", "i.transfer_syntax"),
            ("rows", "i.\"rows\""), ("columns", "i.\"columns\""), ("frames", "i.frames"),
            ("samples_per_pixel", "i.samples_per_pixel"),
            ("photometric_interpretation", "i.photometric_interpretation"),
            ("bits_allocated", "i.bits_allocated"), ("bits_stored", "i.bits_stored"),
            ("decodable", "i.decodable"), ("undecodable_reason", "i.undecodable_reason"),
            ("synthetic", "i.synthetic"), ("manufacturer", "i.manufacturer"), ("sha256", "i.sha256"),
            ("file_size", "i.file_size"), ("stored_path", "i.stored_path"), ("original_path", "i.original_path"),
            // Provenance of instances written by `medsynth synthesize` (NULL for others).
            ("model_id", "(SELECT sy.model_id \(Catalog.synthesisOfInstance))"),
            ("model", "(SELECT sy.model_name \(Catalog.synthesisOfInstance))"),
            ("seed", "(SELECT sy.seed \(Catalog.synthesisOfInstance))"),
            // group_concat keeps the subquery's frame order in SQLite's implementation (not a documented
            // promise; ORDER BY inside the aggregate needs SQLite 3.44, newer than Debian 12's 3.40).
            (
                "latent_indices",
                """
                (SELECT group_concat(latent_index, ' ') FROM (SELECT f.latent_index FROM synthetic_frames f
                 WHERE f.instance_id = i.id ORDER BY f.frame_number))
                """
            ),
        ],
    ]

    private static let synthesisOfInstance = """
        FROM synthetic_frames f JOIN syntheses sy ON sy.id = f.synthesis_id WHERE f.instance_id = i.id AND f.frame_number = 1
        """

    /// Columns holding SQLite integers that mean yes/no.
    private static let booleanColumns: Set<String> = ["decodable", "synthetic"]

    /// Lists `level` for the instances that pass `filter`.
    public func query(_ level: QueryLevel, filter: QueryFilter) throws -> Table {
        let grouping: String
        let ordering: String
        switch level {
        case .patients: (grouping, ordering) = ("GROUP BY p.id", "p.patient_id, p.patient_name")
        case .studies: (grouping, ordering) = ("GROUP BY st.id", "p.patient_id, st.study_date, st.study_instance_uid")
        case .series:
            (grouping, ordering) = ("GROUP BY s.id", "p.patient_id, st.study_instance_uid, s.series_number, s.series_instance_uid")
        case .instances: (grouping, ordering) = ("", Self.instanceOrder)
        case .annotations: return try annotations(filter)
        }
        let columns = Self.queryColumns[level]!
        let (conditions, arguments) = Self.conditions(filter)
        let rows = try read { db in
            try Row.fetchAll(
                db, sql: Self.instanceSelection(columns.map(\.sql), conditions, grouping, ordering),
                arguments: StatementArguments(arguments))
        }
        return Table(
            columns: columns.map(\.name),
            rows: rows.map { row in
                columns.indices.map { Self.value(row[$0], boolean: Self.booleanColumns.contains(columns[$0].name)) }
            })
    }

    /// The absolute paths of the stored copies of the instances `filter`
    /// selects, in the order `query instances` lists them.
    public func storedFiles(_ filter: QueryFilter) throws -> [String] {
        let (conditions, arguments) = Self.conditions(filter)
        let relative = try read { db in
            try String.fetchAll(
                db, sql: Self.instanceSelection(["i.stored_path"], conditions, "", Self.instanceOrder),
                arguments: StatementArguments(arguments))
        }
        return relative.map { storage.absolutePath(relative: $0) }
    }

    static let instanceOrder =
        "p.patient_id, st.study_instance_uid, s.series_instance_uid, i.instance_number, i.sop_instance_uid"

    static func instanceSelection(
        _ columns: [String], _ conditions: [String], _ grouping: String, _ ordering: String, joining: String = ""
    ) -> String {
        """
        SELECT \(columns.joined(separator: ", "))
        FROM instances i \(joining)
        JOIN series s ON s.id = i.series_id
        JOIN studies st ON st.id = s.study_id
        JOIN patients p ON p.id = st.patient_id
        \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
        \(grouping)
        ORDER BY \(ordering)
        """
    }

    /// The SQL conditions on instances (i), series (s), studies (st) and patients (p) of `filter`.
    package static func conditions(_ filter: QueryFilter) -> ([String], [(any DatabaseValueConvertible)?]) {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let modality = filter.modality {
            conditions.append("UPPER(s.modality) = UPPER(?)")
            arguments.append(modality)
        }
        switch filter.synthetic {
        case .yes: conditions.append("i.synthetic = 1")
        case .no: conditions.append("i.synthetic = 0")
        case .any: break
        }
        for (value, column) in [
            (filter.patient, "p.patient_id"), (filter.study, "st.study_instance_uid"),
            (filter.series, "s.series_instance_uid"),
        ] {
            if let value {
                conditions.append("\(column) = ?")
                arguments.append(value)
            }
        }
        if let model = filter.model {
            conditions.append(
                """
                i.id IN (SELECT f.instance_id FROM synthetic_frames f JOIN syntheses y ON y.id = f.synthesis_id
                WHERE y.model_name = ?)
                """)
            arguments.append(model)
        }
        return (conditions, arguments)
    }

    /// Instances, frames, decodable frames and labelled frames per modality,
    /// real and synthetic apart. Segmentation instances are labels, not images:
    /// their own row, kind "labels", counts them and the frames they label.
    public func statistics() throws -> Table {
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(s.modality, 'unknown'),
                           CASE WHEN i.sop_class_uid IN \(SOPClass.segmentationSQLList) THEN 'labels'
                                WHEN i.synthetic = 1 THEN 'synthetic' ELSE 'real' END,
                           COUNT(*), SUM(i.frames), SUM(CASE i.decodable WHEN 1 THEN i.frames ELSE 0 END),
                           SUM((SELECT COUNT(DISTINCT a.frame_number) FROM annotations a WHERE a.instance_id = i.id))
                    FROM instances i JOIN series s ON s.id = i.series_id
                    GROUP BY 1, 2 ORDER BY 2, 1
                    """)
        }
        return Table(
            columns: ["modality", "kind", "instances", "frames", "decodable_frames", "labelled_frames"],
            rows: rows.map { row in (0..<6).map { Self.value(row[$0], boolean: false) } })
    }

    /// The catalogued instance with this SOP Instance UID, if any.
    public func instance(sopInstanceUID: String) throws -> InstanceRecord? {
        try read { db in try InstanceRecord.filter(Column("sop_instance_uid") == sopInstanceUID).fetchOne(db) }
    }

    /// The managed copy of the instance with this SOP Instance UID, for
    /// reading its frame `frameNumber` (from 1, as DICOM counts frames): its absolute path.
    public func storedFile(ofFrame frameNumber: Int, sopInstanceUID: String) throws -> String {
        guard let instance = try instance(sopInstanceUID: sopInstanceUID) else {
            throw CatalogLookupError.noInstance(sopInstanceUID)
        }
        guard frameNumber >= 1, frameNumber <= instance.frames else {
            throw CatalogLookupError.noFrame(frameNumber, frames: instance.frames, sopInstanceUID: sopInstanceUID)
        }
        return storage.absolutePath(relative: instance.storedPath)
    }

    /// A column's value as a table cell; `boolean` reads 0 and 1 as no and yes.
    public static func value(_ databaseValue: DatabaseValue, boolean: Bool) -> CatalogValue {
        switch databaseValue.storage {
        case .null: return .null
        case .int64(let number): return boolean ? .bool(number != 0) : .integer(number)
        case .double(let number): return .integer(Int64(number))
        case .string(let text): return .text(text)
        case .blob: return .text("<blob>")
        }
    }
}

/// What the catalog does not hold.
public enum CatalogLookupError: Error, CustomStringConvertible, Sendable {
    case noInstance(String)
    case noFrame(Int, frames: Int, sopInstanceUID: String)

    public var description: String {
        switch self {
        case .noInstance(let uid): "no instance with this SOP Instance UID in the catalog: \(uid)"
        case .noFrame(let frame, let frames, let uid):
            "--frame \(frame) is out of range: the instance has \(frames) frame\(frames == 1 ? "" : "s"), numbered from 1: \(uid)"
        }
    }
}
