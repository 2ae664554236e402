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

    /// The SHA-256 of the file's dataset without its meta header, in one
    /// canonical encoding (`ms_dataset_sha256`): equal for two files of one
    /// instance that a different writer or receiver encoded differently.
    public static func datasetSHA256(path: String) throws -> String {
        // A decode worker may be asked for digests only: DCMTK's settings and log come first.
        initializeDCMTK()
        var hex = [CChar](repeating: 0, count: 65)
        let (status, message) = withErrorBuffer { ms_dataset_sha256(path, &hex, $0, $1) }
        guard status == 0 else { throw DicomError(message, path: path) }
        return hex.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The SHA-256 of `bytes` as 64 lowercase hexadecimal digits.
    public static func sha256(bytes: [UInt8]) -> String {
        var hex = [CChar](repeating: 0, count: 65)
        bytes.withUnsafeBytes { ms_sha256_bytes($0.baseAddress, $0.count, &hex) }
        return hex.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Copies `source` to the new file `destination` (owner-only) and returns
    /// the SHA-256 and size of the bytes copied: one read of the source, so the
    /// copy is exactly what was hashed. Throws `DicomError` naming the source.
    public static func copy(from source: String, to destination: String) throws -> (sha256: String, size: Int64) {
        var hex = [CChar](repeating: 0, count: 65)
        var size: Int64 = 0
        let (status, message) = withErrorBuffer { ms_copy_with_sha256(source, destination, &hex, &size, $0, $1) }
        guard status == 0 else { throw DicomError(message, path: source) }
        return (hex.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, size)
    }
}
