import Catalog
import DICOM
import Foundation
import GRDB

/// An instance a model could train on, with what the data set and its
/// validation split need to know about it.
public struct TrainingCandidate: Sendable, Equatable, FetchableRecord {
    public var instanceId: Int64
    public var sopInstanceUid: String
    public var seriesInstanceUid: String
    public var patientId: String
    public var storedPath: String
    public var frames: Int
    public var decodable: Bool
    public var synthetic: Bool
    public var sha256: String

    public init(row: Row) throws {
        instanceId = row["instance_id"]
        sopInstanceUid = row["sop_instance_uid"]
        seriesInstanceUid = row["series_instance_uid"]
        patientId = row["patient_id"]
        storedPath = row["stored_path"]
        frames = row["frames"]
        decodable = row["decodable"]
        synthetic = row["synthetic"]
        sha256 = row["sha256"]
    }

    /// The columns `init(row:)` reads, then `extraColumns`, from instances and their series, study and patient.
    package static func selection(extraColumns: String = "") -> String {
        """
        SELECT i.id AS instance_id, i.sop_instance_uid, s.series_instance_uid, p.patient_id, i.stored_path,
               i.frames, i.decodable, i.synthetic, i.sha256\(extraColumns)
        FROM instances i
        JOIN series s ON s.id = i.series_id
        JOIN studies st ON st.id = s.study_id
        JOIN patients p ON p.id = st.patient_id
        """
    }
}

extension Catalog {
    /// Every image instance (no segmentation) of `modality` that passes the
    /// patient, study and series filters, decodable or not; synthetic instances only when asked for.
    /// Ordered by SOP Instance UID, so that the same catalog content gives
    /// the same data set.
    public func trainingCandidates(modality: String, filter: QueryFilter, includeSynthetic: Bool) throws -> [TrainingCandidate] {
        let (conditions, arguments) = Catalog.conditions(
            QueryFilter(
                modality: modality, synthetic: includeSynthetic ? .any : .no, patient: filter.patient, study: filter.study,
                series: filter.series))
        let images = "i.sop_class_uid NOT IN \(SOPClass.segmentationSQLList)"
        let sql =
            TrainingCandidate.selection() + " WHERE " + (conditions + [images]).joined(separator: " AND ") + " ORDER BY i.sop_instance_uid"
        return try read { db in try TrainingCandidate.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)) }
    }
}
