import CDCMTKBridge

/// SHA-256 of files and bytes, through OpenSSL (already a dependency of DCMTK).
public enum FileDigest {
    /// The file's SHA-256 as 64 lowercase hexadecimal digits.
    public static func sha256(path: String) throws -> String {
        var hex = [CChar](repeating: 0, count: 65)
        let (status, message) = withErrorBuffer { ms_sha256_file(path, &hex, $0, $1) }
        guard status == 0 else { throw DicomError(message, path: path) }
        return hex.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The SHA-256 of `bytes` as 64 lowercase hexadecimal digits.
    public static func sha256(bytes: [UInt8]) -> String {
        var hex = [CChar](repeating: 0, count: 65)
        bytes.withUnsafeBytes { ms_sha256_bytes($0.baseAddress, $0.count, &hex) }
        return hex.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
