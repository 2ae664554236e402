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

    package init(
        id: Int64? = nil, startedAt: String, finishedAt: String? = nil, status: ImportRunStatus, paths: String, filesSeen: Int = 0,
        imported: Int = 0, duplicates: Int = 0, skipped: Int = 0, rejected: Int = 0, frames: Int = 0
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.paths = paths
        self.filesSeen = filesSeen
        self.imported = imported
        self.duplicates = duplicates
        self.skipped = skipped
        self.rejected = rejected
        self.frames = frames
    }
}

public struct PatientRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var patientId: String
    public var patientName: String
    public var birthDate: String?
    public var sex: String?

    package init(
        id: Int64? = nil, patientId: String, patientName: String, birthDate: String? = nil, sex: String? = nil
    ) {
        self.id = id
        self.patientId = patientId
        self.patientName = patientName
        self.birthDate = birthDate
        self.sex = sex
    }
}

public struct StudyRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var studyInstanceUid: String
    public var patientId: Int64
    public var studyDate: String?
    public var studyTime: String?
    public var description: String?
    public var accessionNumber: String?

    package init(
        id: Int64? = nil, studyInstanceUid: String, patientId: Int64, studyDate: String? = nil, studyTime: String? = nil,
        description: String? = nil, accessionNumber: String? = nil
    ) {
        self.id = id
        self.studyInstanceUid = studyInstanceUid
        self.patientId = patientId
        self.studyDate = studyDate
        self.studyTime = studyTime
        self.description = description
        self.accessionNumber = accessionNumber
    }
}

public struct SeriesRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var seriesInstanceUid: String
    public var studyId: Int64
    public var modality: String?
    public var seriesNumber: Int?
    public var description: String?
    public var bodyPart: String?

    package init(
        id: Int64? = nil, seriesInstanceUid: String, studyId: Int64, modality: String? = nil, seriesNumber: Int? = nil,
        description: String? = nil, bodyPart: String? = nil
    ) {
        self.id = id
        self.seriesInstanceUid = seriesInstanceUid
        self.studyId = studyId
        self.modality = modality
        self.seriesNumber = seriesNumber
        self.description = description
        self.bodyPart = bodyPart
    }
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

    package init(
        id: Int64? = nil, sopInstanceUid: String, seriesId: Int64, sopClassUid: String, instanceNumber: Int? = nil, transferSyntax: String,
        rows: Int, columns: Int, frames: Int, samplesPerPixel: Int, photometricInterpretation: String? = nil, bitsAllocated: Int? = nil,
        bitsStored: Int? = nil, pixelRepresentation: Int? = nil, manufacturer: String? = nil, modelName: String? = nil,
        burnedInAnnotation: String? = nil, imageType: String? = nil, conversionType: String? = nil, syntheticData: String? = nil,
        synthetic: Bool, decodable: Bool, undecodableReason: String? = nil, sha256: String, storedPath: String, originalPath: String,
        fileSize: Int64, importRunId: Int64
    ) {
        self.id = id
        self.sopInstanceUid = sopInstanceUid
        self.seriesId = seriesId
        self.sopClassUid = sopClassUid
        self.instanceNumber = instanceNumber
        self.transferSyntax = transferSyntax
        self.rows = rows
        self.columns = columns
        self.frames = frames
        self.samplesPerPixel = samplesPerPixel
        self.photometricInterpretation = photometricInterpretation
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored
        self.pixelRepresentation = pixelRepresentation
        self.manufacturer = manufacturer
        self.modelName = modelName
        self.burnedInAnnotation = burnedInAnnotation
        self.imageType = imageType
        self.conversionType = conversionType
        self.syntheticData = syntheticData
        self.synthetic = synthetic
        self.decodable = decodable
        self.undecodableReason = undecodableReason
        self.sha256 = sha256
        self.storedPath = storedPath
        self.originalPath = originalPath
        self.fileSize = fileSize
        self.importRunId = importRunId
    }
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

    package init(
        id: Int64? = nil, sopInstanceUid: String, sha256: String, path: String, reason: String, keptInstanceId: Int64, importRunId: Int64,
        storedPath: String? = nil
    ) {
        self.id = id
        self.sopInstanceUid = sopInstanceUid
        self.sha256 = sha256
        self.path = path
        self.reason = reason
        self.keptInstanceId = keptInstanceId
        self.importRunId = importRunId
        self.storedPath = storedPath
    }
}

/// A file that looked like DICOM but could not be catalogued.
public struct RejectionRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var path: String
    public var reason: String
    public var importRunId: Int64

    package init(
        id: Int64? = nil, path: String, reason: String, importRunId: Int64
    ) {
        self.id = id
        self.path = path
        self.reason = reason
        self.importRunId = importRunId
    }
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
