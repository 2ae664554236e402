import CDCMTKBridge
import Foundation
import Logging

/// DCMTK's own log, routed through swift-log instead of raw stderr.
let dcmtkLogger = Logger(label: "medsynth.dcmtk")

private func forwardDCMTKLog(level: Int32, loggerName: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?) {
    let text = message.map { String(cString: $0) } ?? ""
    let source = loggerName.map { String(cString: $0) } ?? "dcmtk"
    let swiftLevel: Logger.Level
    switch Int(level) {
    case Int(MS_LOG_TRACE.rawValue): swiftLevel = .trace
    case Int(MS_LOG_DEBUG.rawValue): swiftLevel = .debug
    case Int(MS_LOG_INFO.rawValue): swiftLevel = .info
    case Int(MS_LOG_WARN.rawValue): swiftLevel = .warning
    case Int(MS_LOG_ERROR.rawValue): swiftLevel = .error
    default: swiftLevel = .critical
    }
    dcmtkLogger.log(level: swiftLevel, "\(text)", metadata: ["dcmtk": "\(source)"])
}

/// Registers DCMTK's codecs and log routing once per process. Every entry point
/// of this module and of DICOMNetwork calls it; only the first call does anything.
public func initializeDCMTK() {
    _ = dcmtkInitialized
}

private let dcmtkInitialized: Void = {
    // Warnings and errors reach the log; DCMTK's info and debug chatter would
    // drown the progress output on a corpus of thousands of files.
    ms_dicom_initialize(forwardDCMTKLog, Int32(MS_LOG_WARN.rawValue))
}()

/// `medsynth: <level>: <message>` on stderr; DCMTK's own lines only with --verbose.
public struct ConsoleLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let text = "medsynth: \(event.level): \("\(event.message)".escapingControlCharacters)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Makes this the process's log handler (once per process, as swift-log
    /// allows): medsynth's messages from info up (debug with `verbose`), DCMTK's
    /// only critical ones unless `verbose` (then from warnings up).
    public static func bootstrap(verbose: Bool) {
        LoggingSystem.bootstrap { label in
            let isDCMTK = label == "medsynth.dcmtk"
            return ConsoleLogHandler(logLevel: isDCMTK ? (verbose ? .warning : .critical) : (verbose ? .debug : .info))
        }
    }
}
