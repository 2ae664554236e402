import Foundation

/// Tells DICOM files from other files by their first bytes, before DCMTK is
/// asked to parse them (it will parse some non-DICOM bytes as a dataset).
public enum DicomProbe {
    public enum Kind: Equatable, Sendable {
        /// "DICM" at offset 128 (PS3.10 file with preamble).
        case part10
        /// No preamble, but the file starts with a plausible tag of group 0002 or
        /// 0008 in either byte order (an old ACR-NEMA style or bare dataset).
        case bareDataset
        /// Neither: skipped as not DICOM.
        case notDicom
    }

    /// Classifies the file at `path` from its first 132 bytes.
    public static func classify(path: String) throws -> Kind {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DicomError("cannot open", path: path)
        }
        defer { try? handle.close() }
        let head = try handle.read(upToCount: 132) ?? Data()
        return classify(head: head)
    }

    static func classify(head: Data) -> Kind {
        let bytes = [UInt8](head)
        if bytes.count >= 132, bytes[128...131].elementsEqual("DICM".utf8) { return .part10 }
        guard bytes.count >= 8 else { return .notDicom }
        let littleGroup = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        let bigGroup = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        return [0x0002, 0x0008].contains(littleGroup) || [0x0002, 0x0008].contains(bigGroup)
            ? .bareDataset : .notDicom
    }
}
