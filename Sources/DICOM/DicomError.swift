/// A failure reading or decoding a DICOM file, with the file it concerns.
public struct DicomError: Error, CustomStringConvertible, Sendable {
    /// What failed, in words a user can act on.
    public let reason: String
    /// The file concerned.
    public let path: String

    public init(_ reason: String, path: String) {
        self.reason = reason
        self.path = path
    }

    public var description: String { "\(reason): \(path)" }
}

/// Calls a bridge function that writes a NUL-terminated reason into a buffer.
public func withErrorBuffer<Result>(_ body: (UnsafeMutablePointer<CChar>, Int) -> Result) -> (Result, String) {
    var buffer = [CChar](repeating: 0, count: 1024)
    let result = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
    let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return (result, message)
}
