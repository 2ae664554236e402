import Catalog
import DICOM
import DICOMNetwork
import Foundation

/// One `medsynth listen` run: a Storage SCP (`StorageListener`) whose
/// instances `NetworkReceiver` catalogues, with a tally per association and
/// for the run. It reports what happens as `Event`s for the command line to
/// print, and stops when `shouldStop` says so.
public final class NetworkIngest: @unchecked Sendable {
    /// Something a person watching the receiver wants to see.
    public enum Event: Sendable {
        /// The listener is open and waiting for associations.
        case listening(aeTitle: String, address: String, port: UInt16, tls: Bool)
        /// An association was refused: who asked, and why.
        case associationRejected(who: String, reason: String)
        /// An association ended (released, or aborted with the reason), with its counts and rate.
        case associationEnded(who: String, ending: String, stored: Int, failed: Int, instancesPerSecond: Double)
        /// An instance was refused: its C-STORE status, why, and its name (`dicom://AE@peer/UID`).
        case notStored(status: UInt16, reason: String, name: String)
    }

    /// What the run received, once stopped.
    public struct Summary: Sendable {
        /// The import run the instances were recorded in.
        public let imports: ImportResult
        public let associations: Int
        public let rejectedAssociations: Int
        /// Why the listener stopped on its own (the instances before it are stored); nil after a stop request.
        public let failure: String?
    }

    /// The listener could not be opened (the address or port is taken or not
    /// allowed, or the TLS files cannot be loaded); nothing was received.
    public struct CannotListen: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    private let receiver: NetworkReceiver
    private let options: StorageListenerOptions
    private let lock = NSLock()
    private var associations: [UInt64: AssociationTally] = [:]
    private var accepted = 0, rejected = 0

    private struct AssociationTally {
        var started = Date()
        var stored = 0
        var failed = 0
    }

    /// Takes the catalog's import lock and starts an import run (as
    /// `NetworkReceiver` does); `options.incomingDirectory` is replaced by
    /// the catalog's `incoming/`.
    public init(catalog: Catalog, options: StorageListenerOptions) throws {
        receiver = try NetworkReceiver(
            catalog: catalog, source: "dicom://\(options.aeTitle)@\(options.bindAddress):\(options.port)",
            concurrency: options.maxAssociations)
        var options = options
        options.incomingDirectory = receiver.incomingDirectory
        self.options = options
    }

    /// Listens until `shouldStop` (asked every 0.2 s) says to stop or the
    /// listener fails, then finishes the import run. Throws `CannotListen`
    /// when the listener cannot be opened.
    public func run(shouldStop: @escaping @Sendable () -> Bool, events: @escaping @Sendable (Event) -> Void) throws -> Summary {
        let listener: StorageListener
        do {
            listener = try StorageListener(
                options: options, store: { [self] in store($0, events: events) }, event: { [self] in record($0, events: events) })
        } catch {
            _ = try? receiver.finish()
            throw CannotListen(description: "\(error)")
        }
        events(.listening(aeTitle: options.aeTitle, address: options.bindAddress, port: options.port, tls: options.tls != nil))
        let watcher = Thread {
            while !shouldStop() { Thread.sleep(forTimeInterval: 0.2) }
            listener.stop()
        }
        watcher.start()
        var failure: String?
        do { try listener.run() } catch { failure = "\(error)" }
        let imports = try receiver.finish()
        return lock.withLock {
            Summary(imports: imports, associations: accepted, rejectedAssociations: rejected, failure: failure)
        }
    }

    private func store(_ instance: ReceivedInstance, events: (Event) -> Void) -> UInt16 {
        let name = "dicom://\(instance.callingAETitle)@\(instance.peer)/\(instance.sopInstanceUID)"
        let outcome =
            instance.path.map { receiver.receive(path: $0, name: name, sopInstanceUID: instance.sopInstanceUID) }
            ?? receiver.recordUnwritable(name: name)
        lock.withLock {
            if outcome.stored { associations[instance.association]?.stored += 1 } else { associations[instance.association]?.failed += 1 }
        }
        if !outcome.stored { events(.notStored(status: outcome.status, reason: outcome.reason ?? "", name: name)) }
        return outcome.status
    }

    private func record(_ event: AssociationEvent, events: (Event) -> Void) {
        // A connection closed before its request has no calling AE title.
        let who =
            event.callingAETitle.isEmpty
            ? "association \(event.association) from \(event.peer)"
            : "association \(event.association) from \(event.callingAETitle) (\(event.peer))"
        switch event.kind {
        case .accepted:
            lock.withLock {
                associations[event.association] = AssociationTally()
                accepted += 1
            }
        case .rejected:
            lock.withLock { rejected += 1 }
            events(.associationRejected(who: who, reason: event.detail))
        case .released, .aborted:
            let tally = lock.withLock { associations.removeValue(forKey: event.association) } ?? AssociationTally()
            let seconds = max(Date().timeIntervalSince(tally.started), 1e-3)
            events(
                .associationEnded(
                    who: who, ending: event.kind == .released ? "released" : "aborted (\(event.detail))", stored: tally.stored,
                    failed: tally.failed, instancesPerSecond: Double(tally.stored + tally.failed) / seconds))
        }
    }
}
