import Catalog
import DICOM
import DICOMNetwork
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Catalogues the instances a Storage SCP receives (`medsynth listen`)
/// through the import path: each received file is hashed where the network
/// code wrote it (in `incoming/`), parsed and decoded in a decode worker
/// (limits, decodability), then published and committed with `BatchWriter`,
/// as an imported file is. `receive` returns success only once the managed
/// copy and its row are durable.
///
/// Commits are grouped: while one group commits, instances arriving on other
/// associations wait and then commit together, each caller still answered
/// only after the commit that holds its instance.
///
/// Holds the catalog's import lock while open (an `import` meanwhile reports
/// the catalog busy) and records one import run, finished by `finish()`.
public final class NetworkReceiver: @unchecked Sendable {
    let catalog: Catalog
    private let lock: ImportLock
    private let writer: BatchWriter
    /// Workers not in use, guarded by `workerLock`.
    private var idleWorkers: [DecodeWorker]
    private let workerLock = NSLock()
    private let workerAvailable: DispatchSemaphore
    private let allWorkers: [DecodeWorker]

    /// Guards the fields below: the group waiting to commit and the outcomes of committed ones.
    private let condition = NSCondition()
    private var pending: [PendingFile] = []
    private var outcomes: [Int: ReceiveOutcome] = [:]
    private var nextTicket = 0
    private var committing = false

    /// Where the network code writes what it receives: the catalog's `incoming/`.
    public var incomingDirectory: String { catalog.storage.incoming.path }

    /// Takes the import lock (throws `CatalogError.busy` when an import or
    /// another receiver holds it) and starts an import run named `source`.
    /// `concurrency` decode workers serve that many associations at once.
    public init(catalog: Catalog, source: String, concurrency: Int, options: ImportOptions = ImportOptions()) throws {
        // The sender may delete its copy once told an instance is stored.
        try catalog.requireDurableCommits()
        self.catalog = catalog
        (lock, writer) = try BatchWriter.startRun(catalog: catalog, paths: [source], startedAt: Date(), options: options)
        allWorkers = (0..<max(1, concurrency)).map { _ in options.decodeWorker() }
        idleWorkers = allWorkers
        workerAvailable = DispatchSemaphore(value: allWorkers.count)
    }

    /// Catalogues the file at `path` (in `incomingDirectory`, which it moves
    /// into storage or removes), named `name` in the catalog; the request
    /// announced `sopInstanceUID`. Safe from several threads at once.
    public func receive(path: String, name: String, sopInstanceUID: String) -> ReceiveOutcome {
        let parsed: ParsedFile
        do {
            parsed = try withWorker { try ParsedFile(received: path, name: name, storage: catalog.storage, worker: $0) }
        } catch {
            unlink(path)
            return ReceiveOutcome(status: ReceiveOutcome.outOfResources, reason: "\(error)")
        }
        // storescp's rule: a data set that is not the instance announced is refused.
        if case .dicom(let instance) = parsed, instance.metadata.sopInstanceUID != sopInstanceUID {
            catalog.storage.discard([instance.staged])
            let problem = ImportProblem(
                path: name,
                reason: "the data set's SOP Instance UID \(instance.metadata.sopInstanceUID) is not the one the request announced")
            return commit(.rejected(problem), rejectionStatus: ReceiveOutcome.dataSetDoesNotMatch)
        }
        return commit(parsed)
    }

    /// Counts an instance that could not even be written to disk.
    public func recordUnwritable(name: String) -> ReceiveOutcome {
        let problem = ImportProblem(path: name, reason: "cannot be written into the catalog's storage")
        return commit(.rejected(problem), rejectionStatus: ReceiveOutcome.outOfResources)
    }

    /// Records the import run as finished, stops the decode workers and
    /// releases the import lock. Returns what was received.
    public func finish() throws -> ImportResult {
        condition.lock()
        defer { condition.unlock() }
        for worker in allWorkers { worker.stop() }
        writer.digestWorker.stop()
        defer { lock.release() }
        try writer.finish(finishedAt: Importer.timestamp(Date()))
        return writer.result
    }

    private func withWorker<T>(_ body: (DecodeWorker) throws -> T) rethrows -> T {
        workerAvailable.wait()
        let worker = workerLock.withLock { idleWorkers.removeLast() }
        defer {
            workerLock.withLock { idleWorkers.append(worker) }
            workerAvailable.signal()
        }
        return try body(worker)
    }

    /// Queues `file` and waits for the commit that holds it; the first caller
    /// to find no commit running commits everything queued. A rejected file
    /// answers `rejectionStatus` (cannot understand unless given).
    private func commit(_ file: ParsedFile, rejectionStatus: UInt16 = ReceiveOutcome.cannotUnderstand) -> ReceiveOutcome {
        condition.lock()
        defer { condition.unlock() }
        let ticket = nextTicket
        nextTicket += 1
        pending.append(PendingFile(ticket: ticket, file: file, rejectionStatus: rejectionStatus))
        while true {
            if let outcome = outcomes.removeValue(forKey: ticket) { return outcome }
            if committing {
                condition.wait()
                continue
            }
            committing = true
            let group = pending
            pending = []
            condition.unlock()
            let groupOutcomes = write(group)
            condition.lock()
            for (entry, outcome) in zip(group, groupOutcomes) { outcomes[entry.ticket] = outcome }
            committing = false
            condition.broadcast()
        }
    }

    /// Commits one group with `writer`: every file counts as seen; a
    /// rejected file or a conflicting copy fails, and a failed commit fails
    /// the whole group (out of resources).
    private func write(_ group: [PendingFile]) -> [ReceiveOutcome] {
        writer.result.summary.filesSeen += group.count
        let conflictsBefore = writer.result.conflicts.count
        do {
            try writer.write(group.map(\.file))
        } catch {
            return group.map { _ in
                ReceiveOutcome(status: ReceiveOutcome.outOfResources, reason: "the catalog cannot be written: \(error)")
            }
        }
        let conflicts = Dictionary(
            writer.result.conflicts[conflictsBefore...].map { ($0.path, $0.reason) }, uniquingKeysWith: { first, _ in first })
        return group.map { entry in
            switch entry.file {
            case .rejected(let problem):
                return ReceiveOutcome(status: entry.rejectionStatus, reason: problem.reason)
            case .notDicom:
                return ReceiveOutcome(status: entry.rejectionStatus, reason: "not DICOM")
            case .dicom(let instance):
                guard let reason = conflicts[instance.path] else { return ReceiveOutcome(status: ReceiveOutcome.success, reason: nil) }
                return ReceiveOutcome(status: ReceiveOutcome.cannotUnderstand, reason: reason)
            }
        }
    }

    private struct PendingFile {
        let ticket: Int
        let file: ParsedFile
        let rejectionStatus: UInt16
    }
}
