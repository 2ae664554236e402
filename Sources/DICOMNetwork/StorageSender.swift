import CDCMTKBridge
import DICOM
import Foundation

/// A DICOM application entity on the network, written `AE@HOST:PORT`.
public struct DicomPeer: Sendable, Equatable, CustomStringConvertible {
    public let aeTitle: String
    public let host: String
    public let port: UInt16

    /// Parses `AE@HOST:PORT`: an AE title of 1 to 16 characters without
    /// backslashes or control characters (PS3.5 AE), a host name or IPv4
    /// address (DCMTK 3.6.7 connects over IPv4 only), a port from 1 to 65535.
    public init?(parsing text: String) {
        guard let at = text.lastIndex(of: "@"), let colon = text.lastIndex(of: ":"), at < colon else { return nil }
        let ae = String(text[..<at]).trimmingCharacters(in: .whitespaces)
        let host = String(text[text.index(after: at)..<colon])
        guard !ae.isEmpty, ae.count <= 16, !ae.contains("\\"),
            ae.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }),
            !host.isEmpty, host.count <= 57, !host.contains(where: { $0.isWhitespace }),
            let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        self.aeTitle = ae
        self.host = host
        self.port = port
    }

    public var description: String { "\(aeTitle)@\(host):\(port)" }
}

/// What became of one file `StorageSender` was given.
public struct SendOutcome: Sendable, Equatable {
    public let path: String
    /// Empty when the file could not be read.
    public let sopInstanceUID: String
    /// The DIMSE status of the C-STORE response, or `notSent`, `unreadable`.
    public let status: Int
    /// The transfer syntax it was sent in, or why it could not be read.
    public let detail: String

    public static let notSent = Int(MS_SEND_NOT_SENT)
    public static let unreadable = Int(MS_SEND_UNREADABLE)
    /// Not offered: an association failed before its turn.
    public static let notAttempted = -3

    /// Success, or success with a warning (0xB000-0xBFFF, PS3.7 C.4.2.1.4).
    public var stored: Bool { status == 0 || (0xB000...0xBFFF).contains(status) }

    /// The status as PS3.7 Annex C names it, with its code.
    public var statusText: String {
        switch status {
        case Self.notSent: return "not sent: the receiver accepted no presentation context for it"
        case Self.unreadable: return "not sent: \(detail)"
        case Self.notAttempted: return "not sent: the association failed first"
        default: return Self.text(ofStatus: status)
        }
    }

    /// A C-STORE response status as PS3.4 B.2.3 names it, with its code.
    public static func text(ofStatus status: Int) -> String {
        let code = String(format: "0x%04X", status)
        switch status {
        case 0: return "success"
        case 0xB000...0xBFFF: return "stored with a warning \(code)"
        case 0xA700...0xA7FF: return "refused: out of resources \(code)"
        case 0xA900...0xA9FF: return "error: data set does not match SOP class \(code)"
        case 0xC000...0xCFFF: return "error: cannot understand \(code)"
        case 0x0122: return "refused: SOP class not supported \(code)"
        case 0x0124: return "refused: not authorized \(code)"
        default: return "failed \(code)"
        }
    }
}

/// A DICOM network failure: no association, or one that broke off.
public struct DicomNetworkError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { reason }
}

/// A Storage SCU (C-STORE) on DCMTK's DcmStorageSCU (`ms_send_files`).
public enum StorageSender {
    /// Sends `paths` to `peer` as `callingAETitle`, one outcome per path in the
    /// order given. Throws when an association could not be made or broke off,
    /// with the outcomes of the files sent before it.
    public static func send(
        _ paths: [String], to peer: DicomPeer, callingAETitle: String, timeoutSeconds: Int
    ) -> (outcomes: [SendOutcome], failure: DicomNetworkError?) {
        initializeDCMTK()
        let collector = OutcomeCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        let copies = CStringCopies()
        let cPaths = copies.array(paths)
        let (status, reason) = withExtendedLifetime(copies) {
            withErrorBuffer { error, capacity in
                ms_send_files(
                    peer.host, peer.port, peer.aeTitle, callingAETitle, cPaths, paths.count, Int32(timeoutSeconds),
                    { context, path, uid, status, detail in
                        let collector = Unmanaged<OutcomeCollector>.fromOpaque(context!).takeUnretainedValue()
                        let path = String(cString: path!)
                        collector.outcomes[path] = SendOutcome(
                            path: path, sopInstanceUID: String(cString: uid!), status: Int(status),
                            detail: String(cString: detail!))
                    }, context, error, capacity)
            }
        }
        let outcomes = paths.map {
            collector.outcomes[$0] ?? SendOutcome(path: $0, sopInstanceUID: "", status: SendOutcome.notAttempted, detail: "")
        }
        return (outcomes, status == 0 ? nil : DicomNetworkError(reason: reason))
    }

    private final class OutcomeCollector {
        var outcomes: [String: SendOutcome] = [:]
    }
}
