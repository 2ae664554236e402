/// What an import did, as `import --json` prints it.
public struct ImportSummary: Codable, Sendable, Equatable {
    /// Regular files found below the paths given.
    public var filesSeen = 0
    /// New instances catalogued.
    public var imported = 0
    /// Files whose SOP Instance UID was already catalogued (identical copies and conflicts).
    public var duplicates = 0
    /// Files that took the place of a catalogued instance's copy that does not
    /// decode (or that, read again, decode now), and annotation files whose
    /// annotations replaced those of an earlier import of the same path.
    public var replaced = 0
    /// Files that are neither DICOM nor COCO annotation files.
    public var skipped = 0
    /// DICOM-looking files that could not be catalogued, and paths that could not be read.
    public var rejected = 0
    /// Frames of the new instances.
    public var frames = 0
    /// Modality -> new instances.
    public var byModality: [String: Int] = [:]
    /// COCO annotation files stored.
    public var annotationFiles = 0
    /// Annotations they gave.
    public var annotations = 0
    /// Annotations they gave that another file had given the catalog already
    /// (the same labels as a Segmentation, say): stored once.
    public var annotationsAlreadyCatalogued = 0

    enum CodingKeys: String, CodingKey {
        case filesSeen = "files_seen", imported, duplicates, replaced, skipped, rejected, frames
        case byModality = "by_modality"
        case annotationFiles = "annotation_files", annotations
        case annotationsAlreadyCatalogued = "annotations_already_catalogued"
    }
}

/// Progress of a running import, reported after every batch.
public struct ImportProgress: Sendable {
    public var filesDone: Int
    public var filesTotal: Int
    public var summary: ImportSummary
    /// Seconds since the import started.
    public var elapsed: Double
}

/// One file the import could not catalogue, with the reason.
public struct ImportProblem: Sendable, Equatable {
    public let path: String
    public let reason: String
}

/// What an import did, with the per-file problems.
public struct ImportResult: Sendable {
    public var summary: ImportSummary
    public var rejections: [ImportProblem]
    /// Same SOP Instance UID, different dataset: recorded, not stored.
    public var conflicts: [ImportProblem]
    /// Copies that replaced a stored copy that does not decode, with the reason.
    public var replacements: [ImportProblem] = []
    public var runID: Int64
}
