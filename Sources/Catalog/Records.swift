import GRDB

/// Where an import run is.
public enum ImportRunStatus: String, Codable, CaseIterable, Sendable, DatabaseValueConvertible {
    case running, finished
    /// It stopped without finishing (crash, kill); the next open cleaned up after it.
    case interrupted
    /// It ended with an error; what it committed stays.
    case failed
}

/// One `medsynth import` invocation and its counts.
public struct ImportRun: Codable, Sendable, Equatable {
    public var id: Int64?
    public var startedAt: String
    public var finishedAt: String?
    public var status: ImportRunStatus
    public var paths: String
    public var filesSeen = 0
    public var imported = 0
    public var duplicates = 0
    public var skipped = 0
    public var rejected = 0
    public var frames = 0
}

public struct PatientRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var patientId: String
    public var patientName: String
    public var birthDate: String?
    public var sex: String?
}

public struct StudyRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var studyInstanceUid: String
    public var patientId: Int64
    public var studyDate: String?
    public var studyTime: String?
    public var description: String?
    public var accessionNumber: String?
}

public struct SeriesRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var seriesInstanceUid: String
    public var studyId: Int64
    public var modality: String?
    public var seriesNumber: Int?
    public var description: String?
    public var bodyPart: String?
}

public struct InstanceRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var sopInstanceUid: String
    public var seriesId: Int64
    public var sopClassUid: String
    public var instanceNumber: Int?
    public var transferSyntax: String
    public var rows: Int
    public var columns: Int
    public var frames: Int
    public var samplesPerPixel: Int
    public var photometricInterpretation: String?
    public var bitsAllocated: Int?
    public var bitsStored: Int?
    public var pixelRepresentation: Int?
    public var manufacturer: String?
    public var modelName: String?
    public var burnedInAnnotation: String?
    public var imageType: String?
    public var conversionType: String?
    public var syntheticData: String?
    public var synthetic: Bool
    public var decodable: Bool
    public var undecodableReason: String?
    public var sha256: String
    /// Relative to the catalog folder.
    public var storedPath: String
    public var originalPath: String
    public var fileSize: Int64
    public var importRunId: Int64
}

/// A file whose SOP Instance UID was already catalogued.
public struct DuplicateRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var sopInstanceUid: String
    public var sha256: String
    public var path: String
    public var reason: String
    public var keptInstanceId: Int64
    public var importRunId: Int64
    /// The managed copy of a representation that a decodable copy replaced
    /// (it stays in storage); nil for a copy that was never stored.
    public var storedPath: String?
}

/// A file that looked like DICOM but could not be catalogued.
public struct RejectionRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var path: String
    public var reason: String
    public var importRunId: Int64
}

/// A row of a catalog table whose columns are the snake_case names of its properties.
public protocol SnakeCaseRecord: Codable, FetchableRecord, MutablePersistableRecord {}

extension SnakeCaseRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

/// A row with its own integer id, filled in on insert.
public protocol CatalogRecord: SnakeCaseRecord {
    var id: Int64? { get set }
}

extension CatalogRecord {
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension ImportRun: CatalogRecord { public static let databaseTableName = "import_runs" }
extension PatientRecord: CatalogRecord { public static let databaseTableName = "patients" }
extension StudyRecord: CatalogRecord { public static let databaseTableName = "studies" }
extension SeriesRecord: CatalogRecord { public static let databaseTableName = "series" }
extension InstanceRecord: CatalogRecord { public static let databaseTableName = "instances" }
extension DuplicateRecord: CatalogRecord { public static let databaseTableName = "duplicates" }
extension RejectionRecord: CatalogRecord { public static let databaseTableName = "rejections" }
