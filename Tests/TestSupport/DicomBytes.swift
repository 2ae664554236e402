import Foundation

/// Hand-built DICOM files (explicit VR little endian) for the cases real
/// samples do not cover, such as sequences nested deeper than any scanner writes.
public enum DicomBytes {
    /// A Part 10 file with a SOP Instance UID and `depth` nested sequences.
    public static func nestedSequences(depth: Int, sopInstanceUID: String = "2.25.1") -> Data {
        var data = Data(count: 128)
        data.append(contentsOf: Array("DICM".utf8))
        let syntax = "1.2.840.10008.1.2.1"
        var meta = Data()
        meta.append(element(0x0002, 0x0001, "OB", Data([0, 1])))
        meta.append(element(0x0002, 0x0010, "UI", padded(syntax, with: 0)))
        data.append(element(0x0002, 0x0000, "UL", le32(UInt32(meta.count))))
        data.append(meta)
        data.append(element(0x0008, 0x0018, "UI", padded(sopInstanceUID, with: 0)))
        data.append(element(0x0020, 0x000D, "UI", padded("2.25.2", with: 0)))
        data.append(element(0x0020, 0x000E, "UI", padded("2.25.3", with: 0)))
        var nested = Data()
        for _ in 0..<depth {
            // (0040,A730) Content Sequence, undefined length, one item of undefined length.
            var open = tag(0x0040, 0xA730) + Data(Array("SQ".utf8)) + Data([0, 0]) + le32(0xFFFF_FFFF)
            open += tag(0xFFFE, 0xE000) + le32(0xFFFF_FFFF)
            nested = open + nested
            nested += tag(0xFFFE, 0xE00D) + le32(0) + tag(0xFFFE, 0xE0DD) + le32(0)
        }
        data.append(nested)
        return data
    }

    static func tag(_ group: UInt16, _ element: UInt16) -> Data {
        Data([UInt8(group & 0xFF), UInt8(group >> 8), UInt8(element & 0xFF), UInt8(element >> 8)])
    }

    static func le32(_ value: UInt32) -> Data {
        Data((0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) })
    }

    static func padded(_ text: String, with pad: UInt8) -> Data {
        var bytes = Data(text.utf8)
        if bytes.count % 2 == 1 { bytes.append(pad) }
        return bytes
    }

    static func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: Data) -> Data {
        var data = tag(group, element) + Data(Array(vr.utf8))
        if ["OB", "OW", "SQ", "UN", "UT"].contains(vr) {
            data += Data([0, 0]) + le32(UInt32(value.count))
        } else {
            data += Data([UInt8(value.count & 0xFF), UInt8(value.count >> 8)])
        }
        return data + value
    }
}
