import CDCMTKBridge
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
/// of this module calls it; only the first call does anything.
func initializeDCMTK() {
    _ = dcmtkInitialized
}

private let dcmtkInitialized: Void = {
    // Warnings and errors reach the log; DCMTK's info and debug chatter would
    // drown the progress output on a corpus of thousands of files.
    ms_dicom_initialize(forwardDCMTKLog, Int32(MS_LOG_WARN.rawValue))
}()
