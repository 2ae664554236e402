import CDCMTKBridge
import DICOM
import Foundation

/// How `StorageListener` listens (see `ms_scp_options`).
public struct StorageListenerOptions: Sendable {
    /// An IPv4 address of this machine (DCMTK 3.6.7 accepts over IPv4 only).
    public var bindAddress: String
    public var port: UInt16
    /// Our AE title; associations calling another are rejected.
    public var aeTitle: String
    /// Calling AE titles allowed; empty allows every one.
    public var allowedCallingAETitles: [String]
    public var maxAssociations: Int
    /// Bounds the handshake and every wait for a peer; an idle association is aborted after it.
    public var timeoutSeconds: Int
    /// Where received data sets are written before the store handler decides.
    public var incomingDirectory: String
    /// Largest data set one C-STORE may send: past it the association is aborted as the bytes arrive.
    public var maxInstanceBytes: UInt64
    public var tls: TLSFiles?

    /// DICOM TLS: our PEM certificate and key, and the CA whose signature a
    /// peer's certificate must carry (none: no peer certificate is asked for).
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var privateKey: String
        public var certificateAuthority: String?

        public init(certificate: String, privateKey: String, certificateAuthority: String?) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.certificateAuthority = certificateAuthority
        }
    }

    public init(
        bindAddress: String, port: UInt16, aeTitle: String, allowedCallingAETitles: [String], maxAssociations: Int,
        timeoutSeconds: Int, incomingDirectory: String, maxInstanceBytes: UInt64, tls: TLSFiles?
    ) {
        self.bindAddress = bindAddress
        self.port = port
        self.aeTitle = aeTitle
        self.allowedCallingAETitles = allowedCallingAETitles
        self.maxAssociations = maxAssociations
        self.timeoutSeconds = timeoutSeconds
        self.incomingDirectory = incomingDirectory
        self.maxInstanceBytes = maxInstanceBytes
        self.tls = tls
    }
}

/// A C-STORE request whose data set was received.
public struct ReceivedInstance: Sendable {
    /// Its association's number, from 1 in the order accepted.
    public let association: UInt64
    /// The file holding it; nil when it could not be written (out of resources).
    public let path: String?
    public let callingAETitle: String
    /// The peer's IPv4 address.
    public let peer: String
    /// The SOP Instance UID the request announced.
    public let sopInstanceUID: String
}

/// What happened to an association.
public struct AssociationEvent: Sendable {
    public enum Kind: Sendable {
        case accepted, rejected, released, aborted
    }

    public let kind: Kind
    public let association: UInt64
    public let callingAETitle: String
    /// The peer's IPv4 address.
    public let peer: String
    /// Why it was rejected or aborted.
    public let detail: String
}

/// What became of one instance a peer sent: the C-STORE status to answer
/// (PS3.4 B.2.3) and, for a failure, why.
public struct ReceiveOutcome: Sendable, Equatable {
    public let status: UInt16
    public let reason: String?

    public init(status: UInt16, reason: String?) {
        self.status = status
        self.reason = reason
    }

    public static let success: UInt16 = 0x0000
    public static let outOfResources: UInt16 = 0xA700
    public static let dataSetDoesNotMatch: UInt16 = 0xA900
    public static let cannotUnderstand: UInt16 = 0xC000

    public var stored: Bool { status == Self.success }
}

/// A DICOM Storage SCP (C-ECHO, C-STORE of every storage SOP class DCMTK
/// knows) on the bridge's `ms_scp`: each association on its own thread, up to
/// `maxAssociations` at once. Owns the listening socket from `init` to deinit.
public final class StorageListener: @unchecked Sendable {
    private let handle: OpaquePointer
    private let handlers: Unmanaged<ListenerHandlers>

    /// Decides the C-STORE status of a received instance, on the
    /// association's thread: success (0) only once it is durable.
    public typealias StoreHandler = @Sendable (ReceivedInstance) -> UInt16

    /// Opens the listening socket (the port is taken when this returns) and
    /// loads the TLS files. Throws `DicomNetworkError` with the reason.
    public init(
        options: StorageListenerOptions, store: @escaping StoreHandler, event: @escaping @Sendable (AssociationEvent) -> Void
    ) throws {
        initializeDCMTK()
        let handlers = Unmanaged.passRetained(ListenerHandlers(store: store, event: event))
        self.handlers = handlers
        let copies = CStringCopies()
        var scpOptions = ms_scp_options()
        scpOptions.bind_address = copies.copy(options.bindAddress)
        scpOptions.port = options.port
        scpOptions.ae_title = copies.copy(options.aeTitle)
        scpOptions.allowed_calling_ae_titles = copies.array(options.allowedCallingAETitles)
        scpOptions.allowed_count = options.allowedCallingAETitles.count
        scpOptions.max_associations = Int32(options.maxAssociations)
        scpOptions.timeout_seconds = Int32(options.timeoutSeconds)
        scpOptions.incoming_directory = copies.copy(options.incomingDirectory)
        scpOptions.max_instance_bytes = options.maxInstanceBytes
        scpOptions.tls_certificate = options.tls.map { copies.copy($0.certificate) }
        scpOptions.tls_private_key = options.tls.map { copies.copy($0.privateKey) }
        scpOptions.tls_ca = options.tls?.certificateAuthority.map { copies.copy($0) }
        let (created, reason) = withExtendedLifetime(copies) {
            withErrorBuffer { ms_scp_create(&scpOptions, storeTrampoline, eventTrampoline, handlers.toOpaque(), $0, $1) }
        }
        guard let created else {
            handlers.release()
            throw DicomNetworkError(reason: reason)
        }
        handle = created
    }

    deinit {
        ms_scp_destroy(handle)
        handlers.release()
    }

    /// Accepts associations until `stop()`, then lets those in progress finish
    /// their current instance. Throws when accepting fails.
    public func run() throws {
        let (status, reason) = withErrorBuffer { ms_scp_run(handle, $0, $1) }
        guard status == 0 else { throw DicomNetworkError(reason: reason) }
    }

    /// Makes `run()` return; safe from any thread.
    public func stop() {
        ms_scp_stop(handle)
    }
}

private func storeTrampoline(_ context: UnsafeMutableRawPointer?, _ instance: UnsafePointer<ms_scp_instance>?) -> UInt16 {
    let handlers = Unmanaged<ListenerHandlers>.fromOpaque(context!).takeUnretainedValue()
    let request = instance!.pointee
    return handlers.store(
        ReceivedInstance(
            association: request.association, path: request.path.map { String(cString: $0) },
            callingAETitle: String(cString: request.calling_ae_title), peer: String(cString: request.peer_address),
            sopInstanceUID: String(cString: request.sop_instance_uid)))
}

private func eventTrampoline(
    _ context: UnsafeMutableRawPointer?, _ kind: ms_scp_event_kind, _ association: UInt64,
    _ callingAETitle: UnsafePointer<CChar>?, _ peer: UnsafePointer<CChar>?, _ detail: UnsafePointer<CChar>?
) {
    let handlers = Unmanaged<ListenerHandlers>.fromOpaque(context!).takeUnretainedValue()
    let eventKind: AssociationEvent.Kind =
        switch kind {
        case MS_SCP_ACCEPTED: .accepted
        case MS_SCP_REJECTED: .rejected
        case MS_SCP_RELEASED: .released
        default: .aborted
        }
    handlers.event(
        AssociationEvent(
            kind: eventKind, association: association, callingAETitle: String(cString: callingAETitle!),
            peer: String(cString: peer!), detail: String(cString: detail!)))
}

/// The listener's handlers, passed to the bridge as its context pointer.
private final class ListenerHandlers {
    let store: StorageListener.StoreHandler
    let event: @Sendable (AssociationEvent) -> Void

    init(store: @escaping StorageListener.StoreHandler, event: @escaping @Sendable (AssociationEvent) -> Void) {
        self.store = store
        self.event = event
    }
}
