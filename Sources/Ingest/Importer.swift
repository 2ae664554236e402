import Catalog
import DICOM
import Dispatch
import Foundation
import GRDB
import Synchronization

/// How an import runs.
public struct ImportOptions: Sendable {
    /// Files parsed at once (default: one per core).
    public var jobs: Int
    /// Files per transaction.
    public var batchSize: Int
    /// Longest time the decode worker may spend on one file before it is
    /// stopped and the file rejected.
    public var decodeTimeout: Duration
    /// The `medsynth-decode-worker` executable that each decode worker runs.
    public var workerExecutable: String

    public init(
        jobs: Int? = nil, batchSize: Int = 128, decodeTimeout: Duration = .seconds(600),
        workerExecutable: String = DecodeWorker.defaultExecutable()
    ) {
        self.jobs = max(1, jobs ?? ProcessInfo.processInfo.activeProcessorCount)
        self.batchSize = max(1, batchSize)
        self.decodeTimeout = decodeTimeout
        self.workerExecutable = workerExecutable
    }

    /// A decode worker with these options (its child starts on first use).
    func decodeWorker() -> DecodeWorker {
        DecodeWorker(executable: workerExecutable, timeout: decodeTimeout)
    }
}

/// Imports files into a catalog: copies each file once into managed storage,
/// hashing it on the way, parses and decodes the copy in a decode worker
/// process (`DecodeWorker`: a file that crashes the decoder is rejected, not
/// the import), and commits the rows in batches.
///
/// Per batch: stage the copies, publish the new ones (durable, renamed into
/// place), then commit the rows in one transaction. A failed commit removes the
/// batch's published files; a crash leaves at most unreferenced files, which
/// the next open of the catalog removes.
public final class Importer {
    let catalog: Catalog
    let options: ImportOptions

    public init(catalog: Catalog, options: ImportOptions = ImportOptions()) {
        self.catalog = catalog
        self.options = options
    }

    /// Imports every file below `paths`. `progress` is called after each
    /// batch, from a background thread. Throws only on fatal errors (the
    /// catalog cannot be written); per-file problems are in the result.
    public func run(paths: [String], progress: @escaping @Sendable (ImportProgress) -> Void = { _ in }) throws -> ImportResult {
        let started = Date()
        let (lock, writer) = try BatchWriter.startRun(catalog: catalog, paths: paths, startedAt: started, options: options)
        defer { lock.release() }
        let collector = FileCollector(paths: paths)
        writer.result.summary.filesSeen = collector.files.count
        writer.recordUnreadablePaths(collector.problems)
        // Annotation files after the DICOM files, so that they find the frames they label.
        let annotationFiles = collector.files.filter(AnnotationFileImport.isCandidate)
        let dicomFiles = collector.files.filter { !AnnotationFileImport.isCandidate($0) }
        let report = { @Sendable (filesDone: Int) in
            progress(
                ImportProgress(
                    filesDone: filesDone, filesTotal: collector.files.count, summary: writer.result.summary,
                    elapsed: Date().timeIntervalSince(started)))
        }
        do {
            try importBatches(dicomFiles, into: writer, written: report)
            let annotationImport = AnnotationFileImport(catalog: catalog, runID: writer.runID)
            for (index, path) in annotationFiles.enumerated() {
                writer.record(try annotationImport.importFile(path), path: path)
                report(dicomFiles.count + index + 1)
            }
        } catch {
            try? catalog.write { db in
                try db.execute(
                    sql: "UPDATE import_runs SET status = ?, finished_at = ? WHERE id = ?",
                    arguments: [ImportRunStatus.failed, Self.timestamp(Date()), writer.runID])
            }
            throw error
        }
        try writer.finish(finishedAt: Self.timestamp(Date()))
        return writer.result
    }

    /// Parses the files batch by batch in the decode workers while the
    /// previous batch is written; `written` gets the files done after each
    /// batch, from the write queue. Throws the first failure, once nothing
    /// is being written any more.
    private func importBatches(_ files: [String], into writer: BatchWriter, written: @escaping @Sendable (Int) -> Void) throws {
        let writeQueue = DispatchQueue(label: "medsynth.import.writer")
        let slots = DispatchSemaphore(value: 1)  // one batch writing while the next one parses
        let failure = Mutex<Error?>(nil)
        var done = 0
        let workers = (0..<options.jobs).map { _ in options.decodeWorker() }
        defer { for worker in workers { worker.stop() } }
        for start in stride(from: 0, to: files.count, by: options.batchSize) {
            let batch = Array(files[start..<min(start + options.batchSize, files.count)])
            let parsed: [ParsedFile]
            do {
                parsed = try Self.parseInParallel(batch, storage: catalog.storage, workers: workers)
            } catch {
                writeQueue.sync {}
                failure.withLock { if $0 == nil { $0 = error } }
                break
            }
            slots.wait()
            if failure.withLock({ $0 != nil }) { break }
            done += batch.count
            let filesDone = done
            writeQueue.async {
                defer { slots.signal() }
                do {
                    try writer.write(parsed)
                    written(filesDone)
                } catch {
                    failure.withLock { $0 = error }
                }
            }
        }
        writeQueue.sync {}
        if let error = failure.withLock({ $0 }) { throw error }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// Stages and inspects `paths` on one thread per worker, keeping their
    /// order. Throws when a worker cannot run; the batch's staged copies are
    /// then removed.
    static func parseInParallel(_ paths: [String], storage: ManagedStorage, workers: [DecodeWorker]) throws -> [ParsedFile] {
        let results = UnsafeSendableBuffer<ParsedFile>(count: paths.count, initial: .notDicom(""))
        let next = Atomic<Int>(0)
        let failure = Mutex<Error?>(nil)
        let pool = UnsafeSendableBuffer<DecodeWorker>(workers)
        DispatchQueue.concurrentPerform(iterations: min(workers.count, paths.count)) { thread in
            while failure.withLock({ $0 == nil }) {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < paths.count else { return }
                do {
                    results.set(index, try ParsedFile(path: paths[index], storage: storage, worker: pool[thread]))
                } catch {
                    failure.withLock { $0 = error }
                }
            }
        }
        if let error = failure.withLock({ $0 }) {
            storage.discard(results.values.compactMap(\.stagedFile))
            throw error
        }
        return results.values
    }
}

/// A fixed array shared by several threads, each index used by exactly one.
private final class UnsafeSendableBuffer<Element>: @unchecked Sendable {
    private var storage: [Element]
    init(count: Int, initial: Element) { storage = Array(repeating: initial, count: count) }
    init(_ elements: [Element]) { storage = elements }
    func set(_ index: Int, _ value: Element) {
        storage.withUnsafeMutableBufferPointer { $0[index] = value }
    }
    subscript(index: Int) -> Element { storage.withUnsafeBufferPointer { $0[index] } }
    var values: [Element] { storage }
}

/// A file after staging and inspection, before anything is published.
enum ParsedFile: Sendable {
    case notDicom(String)
    case rejected(ImportProblem)
    case dicom(ParsedInstance)

    /// Copies `path` into `incoming/` and has `worker` parse and decode the
    /// copy. Throws only when the worker cannot run.
    init(path: String, storage: ManagedStorage, worker: DecodeWorker) throws {
        let staged: ManagedStorage.StagedFile
        do {
            if try DicomProbe.classify(path: path) == .notDicom {
                self = .notDicom(path)
                return
            }
            staged = try storage.stage(source: path)
        } catch let error as DicomError {
            self = .rejected(ImportProblem(path: path, reason: error.reason))
            return
        } catch {
            self = .rejected(ImportProblem(path: path, reason: "\(error)"))
            return
        }
        try self.init(inspecting: staged, from: path, storage: storage, worker: worker)
    }

    /// A file a peer sent (`NetworkReceiver`), written into `incoming/` by the
    /// network code and named `name` in the catalog. Throws only when the
    /// worker cannot run.
    init(received receivedPath: String, name: String, storage: ManagedStorage, worker: DecodeWorker) throws {
        let staged: ManagedStorage.StagedFile
        do {
            staged = try storage.adopt(receivedPath)
        } catch {
            unlink(receivedPath)
            self = .rejected(ImportProblem(path: name, reason: "\(error)"))
            return
        }
        try self.init(inspecting: staged, from: name, storage: storage, worker: worker)
    }

    /// Has `worker` parse and decode the staged copy of `path`.
    private init(inspecting staged: ManagedStorage.StagedFile, from path: String, storage: ManagedStorage, worker: DecodeWorker) throws {
        let outcome: DecodeWorker.Outcome
        do {
            outcome = try worker.inspect(path: staged.stagedPath)
        } catch {
            storage.discard([staged])
            throw error
        }
        switch outcome {
        case .instance(let metadata):
            self = .dicom(ParsedInstance(path: path, staged: staged, metadata: metadata))
        case .rejected(let reason):
            storage.discard([staged])
            self = .rejected(ImportProblem(path: path, reason: reason))
        }
    }

    /// The staged copy, for a file that has one.
    var stagedFile: ManagedStorage.StagedFile? {
        if case .dicom(let instance) = self { instance.staged } else { nil }
    }
}

struct ParsedInstance: Sendable {
    /// Where the file was imported from.
    let path: String
    /// Its copy in `incoming/`, hashed as it was made.
    let staged: ManagedStorage.StagedFile
    let metadata: InstanceMetadata

    var sha256: String { staged.sha256 }
}

/// Writes parsed batches into the catalog, one at a time. Used from one
/// thread at a time only (the importer's write queue, `NetworkReceiver`'s committer).
final class BatchWriter: @unchecked Sendable {
    let catalog: Catalog
    let runID: Int64
    var result: ImportResult
    /// Reads files again when two of one UID differ (`conflictReason`); its
    /// child starts on the first such pair only.
    let digestWorker: DecodeWorker

    /// Instances seen so far in this run or found in the catalog, by SOP Instance UID.
    private var known: [String: KnownInstance] = [:]
    private var patientIDs: [PatientKey: Int64] = [:]
    private var studyIDs: [String: Int64] = [:]
    private var seriesIDs: [String: Int64] = [:]
    private var pendingRejections: [ImportProblem] = []

    private struct KnownInstance {
        var id: Int64?
        let sha256: String
        let transferSyntax: String
        let path: String
        /// The bytes that were hashed and stored: the managed copy, or the
        /// staged one while its batch is not yet published.
        var contentPath: String
        let decodable: Bool
        let undecodableReason: String?
        /// Its dataset digest, once a differing copy asked for it.
        var datasetSHA256: String?

        init(catalogued row: InstanceRecord, contentPath: String) {
            self.id = row.id
            self.sha256 = row.sha256
            self.transferSyntax = row.transferSyntax
            self.path = row.originalPath
            self.contentPath = contentPath
            self.decodable = row.decodable
            self.undecodableReason = row.undecodableReason
        }

        init(new instance: ParsedInstance, id: Int64?) {
            self.id = id
            self.sha256 = instance.sha256
            self.transferSyntax = instance.metadata.transferSyntaxName
            self.path = instance.path
            self.contentPath = instance.staged.stagedPath
            self.decodable = instance.metadata.decodable
            self.undecodableReason = instance.metadata.undecodableReason
        }
    }

    /// A copy that takes the place of the stored representation of its
    /// instance (`replacementReason`).
    private struct Replacement {
        let copy: ParsedInstance
        let reason: String
        /// The catalogued row it updates; nil when the replaced copy came
        /// earlier in this batch, so that the copy is inserted instead.
        let rowID: Int64?
        /// The replaced copy, unless it is the same file: recorded in
        /// `duplicates` with its managed copy, which stays.
        let replaced: ReplacedCopy?
    }

    private struct ReplacedCopy {
        let sha256: String
        let path: String
        /// Its copy in `incoming/` when it came earlier in this batch, to publish with the batch.
        let staged: ManagedStorage.StagedFile?
    }

    private struct PatientKey: Hashable {
        let id: String
        let name: String
    }

    /// Starts an import run: takes the import lock (throws
    /// `CatalogError.busy` when an import or `listen` holds it), empties
    /// `incoming/` (holding the lock, what is there is left over from a run
    /// that died) and records a running run of `paths`. Returns the lock, for
    /// the caller to release, and the run's writer.
    static func startRun(catalog: Catalog, paths: [String], startedAt: Date, options: ImportOptions) throws -> (ImportLock, BatchWriter) {
        guard let lock = try ImportLock(catalog: catalog.directory, wait: false) else {
            throw CatalogError.busy(catalog.directory.path)
        }
        do {
            catalog.storage.clearIncoming()
            let pathsJSON = String(decoding: try JSONEncoder().encode(paths), as: UTF8.self)
            var run = ImportRun(id: nil, startedAt: Importer.timestamp(startedAt), status: .running, paths: pathsJSON)
            try catalog.write { db in try run.insert(db) }
            return (lock, BatchWriter(catalog: catalog, runID: run.id!, digestWorker: options.decodeWorker()))
        } catch {
            lock.release()
            throw error
        }
    }

    init(catalog: Catalog, runID: Int64, digestWorker: DecodeWorker) {
        self.catalog = catalog
        self.runID = runID
        self.digestWorker = digestWorker
        result = ImportResult(summary: ImportSummary(), rejections: [], conflicts: [], runID: runID)
    }

    func recordUnreadablePaths(_ problems: [FileCollector.Problem]) {
        for problem in problems { reject(ImportProblem(path: problem.path, reason: problem.reason)) }
    }

    private func reject(_ problem: ImportProblem) {
        result.summary.rejected += 1
        result.rejections.append(problem)
        pendingRejections.append(problem)
    }

    /// Counts what became of an annotation file; a refused file counts once,
    /// with one rejection per problem.
    func record(_ outcome: AnnotationFileImport.Outcome, path: String) {
        switch outcome {
        case .imported(let annotations, let replaced, let alreadyCatalogued):
            result.summary.annotationFiles += 1
            result.summary.annotations += annotations
            result.summary.annotationsAlreadyCatalogued += alreadyCatalogued
            if replaced > 0 {
                result.summary.replaced += 1
                result.replacements.append(
                    ImportProblem(
                        path: path,
                        reason: "its \(replaced) annotations from an earlier import of this path gave way to this version's \(annotations)")
                )
            }
        case .duplicate:
            result.summary.duplicates += 1
        case .skipped:
            result.summary.skipped += 1
        case .rejected(let reasons):
            rejectFile(path, reasons: reasons)
        }
    }

    /// Refuses one file for every one of `reasons`: it counts once, each reason is a rejection.
    private func rejectFile(_ path: String, reasons: [String]) {
        result.summary.rejected += 1
        for reason in reasons {
            let problem = ImportProblem(path: path, reason: reason)
            result.rejections.append(problem)
            pendingRejections.append(problem)
        }
    }

    /// What one batch adds to the catalog.
    private struct BatchPlan {
        var newInstances: [ParsedInstance] = []
        var conflicts: [(ParsedInstance, String)] = []
        var replacements: [Replacement] = []
    }

    /// Sorts a batch's files into new instances, replacements, duplicates,
    /// conflicts, skipped and rejected files, in path order, against `known`.
    private func plan(_ batch: [ParsedFile]) throws -> BatchPlan {
        var plan = BatchPlan()
        for file in batch {
            switch file {
            case .notDicom:
                result.summary.skipped += 1
            case .rejected(let problem):
                reject(problem)
            case .dicom(let instance):
                let uid = instance.metadata.sopInstanceUID
                if let kept = known[uid], let reason = replacementReason(kept, by: instance) {
                    var replaced: ReplacedCopy?
                    if kept.sha256 != instance.sha256 {
                        let earlier = plan.newInstances.firstIndex { $0.metadata.sopInstanceUID == uid }
                        replaced = ReplacedCopy(
                            sha256: kept.sha256, path: kept.path, staged: earlier.map { plan.newInstances[$0].staged })
                        if let earlier { plan.newInstances[earlier] = instance }
                    }
                    plan.replacements.append(Replacement(copy: instance, reason: reason, rowID: kept.id, replaced: replaced))
                    var replacing = KnownInstance(new: instance, id: kept.id)
                    // The same file stays where it is stored; the staged copy is discarded.
                    if replaced == nil { replacing.contentPath = kept.contentPath }
                    known[uid] = replacing
                } else if let kept = known[uid] {
                    result.summary.duplicates += 1
                    if kept.sha256 != instance.sha256, let reason = try conflictReason(uid, other: instance) {
                        plan.conflicts.append((instance, reason))
                    }
                } else {
                    known[uid] = KnownInstance(new: instance, id: nil)
                    plan.newInstances.append(instance)
                }
            }
        }
        return plan
    }

    func write(_ batch: [ParsedFile]) throws {
        let candidates = batch.compactMap { if case .dicom(let instance) = $0 { instance } else { nil } }
        try lookUpCatalogued(candidates.map(\.metadata.sopInstanceUID))
        // Copies of duplicates, and of everything when this batch fails before
        // publishing; a published copy was renamed away, so unlinking its
        // staged path does nothing.
        defer { catalog.storage.discard(batch.compactMap(\.stagedFile)) }
        var plan = try self.plan(batch)
        try refuseMisfittingSegmentations(&plan)
        // A row that takes another file; one that decodes now keeps its managed
        // copy, which a failed commit below must not unlink.
        let updated = plan.replacements.filter { $0.rowID != nil && $0.replaced != nil }
        let published =
            plan.newInstances.map(\.staged) + updated.map(\.copy.staged) + plan.replacements.compactMap(\.replaced?.staged)
        try catalog.storage.publish(published)
        for instance in plan.newInstances + updated.map(\.copy) {
            known[instance.metadata.sopInstanceUID]?.contentPath = instance.staged.finalPath
        }
        var misfittingMasks: [ImportProblem] = []
        do {
            try catalog.write { db in
                let inserted = try plan.newInstances.map { try insert($0, db) }
                // Masks once every instance of the batch is in, so that a
                // Segmentation finds the frames it labels whatever their order.
                for (instance, row) in zip(plan.newInstances, inserted) {
                    if let content = instance.metadata.segmentation {
                        try SegmentationLinks.store(content, instance: row, runID: runID, db)
                    }
                }
                misfittingMasks = try SegmentationLinks.link(inserted, db)
                for problem in misfittingMasks {
                    var record = RejectionRecord(id: nil, path: problem.path, reason: problem.reason, importRunId: runID)
                    try record.insert(db, onConflict: .ignore)
                }
                for replacement in plan.replacements { try replace(replacement, db) }
                for (instance, reason) in plan.conflicts { try recordConflict(instance, reason: reason, db) }
                for problem in pendingRejections {
                    var record = RejectionRecord(id: nil, path: problem.path, reason: problem.reason, importRunId: runID)
                    try record.insert(db, onConflict: .ignore)
                }
                try updateRunCounts(status: .running, finishedAt: nil, db)
            }
        } catch {
            for file in published { unlink(file.finalPath) }
            throw error
        }
        pendingRejections = []
        result.rejections += misfittingMasks
        result.summary.rejected += Set(misfittingMasks.map(\.path)).count
        for instance in plan.newInstances {
            result.summary.imported += 1
            result.summary.frames += instance.metadata.frames
            result.summary.byModality[instance.metadata.modality ?? "unknown", default: 0] += 1
        }
        result.conflicts += plan.conflicts.map { ImportProblem(path: $0.0.path, reason: $0.1) }
        result.summary.replaced += plan.replacements.count
        result.replacements += plan.replacements.map { ImportProblem(path: $0.copy.path, reason: $0.reason) }
    }

    func finish(finishedAt: String) throws {
        try catalog.write { db in
            for problem in pendingRejections {
                var record = RejectionRecord(id: nil, path: problem.path, reason: problem.reason, importRunId: runID)
                try record.insert(db, onConflict: .ignore)
            }
            try updateRunCounts(status: .finished, finishedAt: finishedAt, db)
        }
        pendingRejections = []
    }

    private func updateRunCounts(status: ImportRunStatus, finishedAt: String?, _ db: Database) throws {
        let s = result.summary
        try db.execute(
            sql: """
                UPDATE import_runs SET status = ?, finished_at = ?, files_seen = ?, imported = ?,
                duplicates = ?, skipped = ?, rejected = ?, frames = ? WHERE id = ?
                """,
            arguments: [status, finishedAt, s.filesSeen, s.imported, s.duplicates, s.skipped, s.rejected, s.frames, runID])
    }

    /// Fills `known` with the catalogued instances among `uids`.
    private func lookUpCatalogued(_ uids: [String]) throws {
        let unknown = uids.filter { known[$0] == nil }
        guard !unknown.isEmpty else { return }
        let rows = try catalog.read { db in
            try InstanceRecord.filter(unknown.contains(Column("sop_instance_uid"))).fetchAll(db)
        }
        for row in rows {
            known[row.sopInstanceUid] = KnownInstance(
                catalogued: row, contentPath: catalog.storage.absolutePath(relative: row.storedPath))
        }
    }

    /// Why `copy` takes the place of the stored representation `kept` of its
    /// instance, or nil. Only a stored copy that does not decode here gives way,
    /// and only to one that does: the same file, catalogued by a build that did
    /// not decode it (JPEG 2000 before issue 18), or the instance in another
    /// transfer syntax (an uncompressed twin of a compressed copy with no
    /// decoder). A differing copy in the same transfer syntax stays a conflict.
    private func replacementReason(_ kept: KnownInstance, by copy: ParsedInstance) -> String? {
        guard !kept.decodable, copy.metadata.decodable else { return nil }
        let keptReason = kept.undecodableReason ?? "not decodable"
        if kept.sha256 == copy.sha256 {
            return "catalogued as not decodable (\(keptReason)), and it decodes now; marked decodable"
        }
        guard kept.transferSyntax != copy.metadata.transferSyntaxName else { return nil }
        return "same SOP Instance UID as \(kept.path), whose copy in \(kept.transferSyntax) does not decode "
            + "(\(keptReason)); this copy in \(copy.metadata.transferSyntaxName) decodes and is now the stored one "
            + "(the other stays in storage, recorded in duplicates)"
    }

    /// Writes a replacement: the catalogued row takes the copy's file and
    /// metadata (or the copy is inserted, when it replaced one of this batch),
    /// and the replaced copy is recorded with its managed copy.
    private func replace(_ replacement: Replacement, _ db: Database) throws {
        let uid = replacement.copy.metadata.sopInstanceUID
        if let rowID = replacement.rowID {
            var record = try instanceRecord(replacement.copy, db)
            record.id = rowID
            try record.update(db)
        }
        guard let replaced = replacement.replaced, let keptID = known[uid]?.id else { return }
        var duplicate = DuplicateRecord(
            id: nil, sopInstanceUid: uid, sha256: replaced.sha256, path: replaced.path,
            reason: "replaced by \(replacement.copy.path), which decodes", keptInstanceId: keptID,
            importRunId: runID, storedPath: catalog.storage.relativePath(sha256: replaced.sha256))
        try duplicate.insert(db, onConflict: .ignore)
    }

    /// Why `other` is not stored beside the instance of `uid` already known,
    /// or nil when it is the same instance. Files of one UID whose bytes differ
    /// may still hold the same dataset, told apart only by what their writer
    /// chose (meta header, VR, byte order, lengths): a study sent back through
    /// a DICOM receiver is not a conflict. The datasets are read again in a
    /// decode worker, as every reading of an imported file is.
    private func conflictReason(_ uid: String, other: ParsedInstance) throws -> String? {
        guard let kept = known[uid] else { return nil }
        let keptDigest: Result<String, DecodeWorker.DatasetDigestFailure>
        if let digest = kept.datasetSHA256 {
            keptDigest = .success(digest)
        } else {
            keptDigest = try digestWorker.datasetDigest(path: kept.contentPath)
            if case .success(let digest) = keptDigest { known[uid]?.datasetSHA256 = digest }
        }
        let otherDigest = try digestWorker.datasetDigest(path: other.staged.stagedPath)
        switch (keptDigest, otherDigest) {
        case (.success(let a), .success(let b)) where a == b:
            return nil
        case (.failure(let failure), _), (_, .failure(let failure)):
            return "same SOP Instance UID as \(kept.path), and the datasets could not be compared "
                + "(\(failure.reason)); the stored copy stays"
        default:
            if kept.transferSyntax != other.metadata.transferSyntaxName {
                return "same SOP Instance UID as \(kept.path), in another transfer syntax "
                    + "(\(other.metadata.transferSyntaxName); the stored copy, in \(kept.transferSyntax), stays)"
            }
            return "same SOP Instance UID as \(kept.path) but different content (conflict); the stored copy stays"
        }
    }

    private func recordConflict(_ instance: ParsedInstance, reason: String, _ db: Database) throws {
        guard let keptID = known[instance.metadata.sopInstanceUID]?.id else { return }
        var record = DuplicateRecord(
            id: nil, sopInstanceUid: instance.metadata.sopInstanceUID, sha256: instance.sha256,
            path: instance.path, reason: reason, keptInstanceId: keptID, importRunId: runID, storedPath: nil)
        try record.insert(db, onConflict: .ignore)
    }

    private func insert(_ instance: ParsedInstance, _ db: Database) throws -> InstanceRecord {
        var record = try instanceRecord(instance, db)
        try record.insert(db)
        known[instance.metadata.sopInstanceUID]?.id = record.id
        return record
    }

    /// Takes out of `plan` the Segmentations whose masks do not fit a frame
    /// they reference (catalogued, or new in this batch), rejecting each with
    /// every entry that does not fit. Masks of frames not catalogued yet are
    /// checked when their instance arrives (`SegmentationLinks.link`).
    private func refuseMisfittingSegmentations(_ plan: inout BatchPlan) throws {
        let contents = plan.newInstances.compactMap(\.metadata.segmentation)
        guard !contents.isEmpty else { return }
        var referenced: [String: SegmentationLinks.Geometry] = [:]
        for instance in plan.newInstances where instance.metadata.segmentation == nil {
            let m = instance.metadata
            referenced[m.sopInstanceUID] = SegmentationLinks.Geometry(rows: m.rows, columns: m.columns, frames: m.frames)
        }
        let uids = Set(contents.flatMap { $0.frames.map(\.sopInstanceUID) })
        for row in try catalog.read({ db in try InstanceRecord.filter(uids.contains(Column("sop_instance_uid"))).fetchAll(db) }) {
            referenced[row.sopInstanceUid] = SegmentationLinks.Geometry(rows: row.rows, columns: row.columns, frames: row.frames)
        }
        plan.newInstances.removeAll { instance in
            guard let content = instance.metadata.segmentation else { return false }
            let problems = SegmentationLinks.problems(content, known: referenced)
            guard !problems.isEmpty else { return false }
            rejectFile(instance.path, reasons: problems)
            known[instance.metadata.sopInstanceUID] = nil
            return true
        }
    }

    /// The instances row of `instance` (without an id), its patient, study and series found or inserted.
    private func instanceRecord(_ instance: ParsedInstance, _ db: Database) throws -> InstanceRecord {
        let m = instance.metadata
        return InstanceRecord(
            id: nil, sopInstanceUid: m.sopInstanceUID, seriesId: try seriesID(for: m, db), sopClassUid: m.sopClassUID,
            instanceNumber: m.instanceNumber, transferSyntax: m.transferSyntaxName, rows: m.rows, columns: m.columns,
            frames: m.frames, samplesPerPixel: m.samplesPerPixel, photometricInterpretation: m.photometricInterpretation,
            bitsAllocated: m.bitsAllocated, bitsStored: m.bitsStored, pixelRepresentation: m.pixelRepresentation,
            manufacturer: m.manufacturer, modelName: m.manufacturerModelName, burnedInAnnotation: m.burnedInAnnotation,
            imageType: m.imageType, conversionType: m.conversionType, syntheticData: m.syntheticData,
            synthetic: m.isSynthetic, decodable: m.decodable, undecodableReason: m.undecodableReason,
            sha256: instance.sha256, storedPath: catalog.storage.relativePath(sha256: instance.sha256),
            originalPath: instance.path, fileSize: instance.staged.size, importRunId: runID)
    }

    private func seriesID(for m: InstanceMetadata, _ db: Database) throws -> Int64 {
        if let id = seriesIDs[m.seriesInstanceUID] { return id }
        let id = try findOrInsert(Column("series_instance_uid") == m.seriesInstanceUID, db) {
            SeriesRecord(
                id: nil, seriesInstanceUid: m.seriesInstanceUID, studyId: try studyID(for: m, db),
                modality: m.modality, seriesNumber: m.seriesNumber,
                description: m.seriesDescription, bodyPart: m.bodyPartExamined)
        }
        seriesIDs[m.seriesInstanceUID] = id
        return id
    }

    private func studyID(for m: InstanceMetadata, _ db: Database) throws -> Int64 {
        if let id = studyIDs[m.studyInstanceUID] { return id }
        let id = try findOrInsert(Column("study_instance_uid") == m.studyInstanceUID, db) {
            StudyRecord(
                id: nil, studyInstanceUid: m.studyInstanceUID, patientId: try patientID(for: m, db),
                studyDate: m.studyDate, studyTime: m.studyTime,
                description: m.studyDescription, accessionNumber: m.accessionNumber)
        }
        studyIDs[m.studyInstanceUID] = id
        return id
    }

    private func patientID(for m: InstanceMetadata, _ db: Database) throws -> Int64 {
        let key = PatientKey(id: m.patientID, name: m.patientName)
        if let id = patientIDs[key] { return id }
        let id = try findOrInsert(Column("patient_id") == key.id && Column("patient_name") == key.name, db) {
            PatientRecord(id: nil, patientId: key.id, patientName: key.name, birthDate: m.patientBirthDate, sex: m.patientSex)
        }
        patientIDs[key] = id
        return id
    }

    /// The id of the row matching `filter`, inserting `make()` when there is none
    /// (an earlier import may have catalogued the patient, study or series).
    private func findOrInsert<Record: CatalogRecord>(
        _ filter: SQLExpression, _ db: Database,
        make: () throws -> Record
    ) throws -> Int64 {
        if let existing = try Record.filter(filter).fetchOne(db) { return existing.id! }
        var record = try make()
        try record.insert(db)
        return record.id!
    }
}
