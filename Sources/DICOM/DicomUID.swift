import Foundation

/// New DICOM UIDs under the `2.25` root: a random UUID written as one decimal
/// integer (PS3.5 B.2, ISO/IEC 9834-8), for use without a registered root.
public enum DicomUID {
    public static func make() -> String {
        let bytes = UUID().uuid
        let words = withUnsafeBytes(of: bytes) { raw in
            (0..<4).map { index in
                raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self).bigEndian
            }
        }
        return "2.25." + decimal(of: words)
    }

    /// Decimal digits of a 128-bit number given as four big-endian 32-bit words.
    static func decimal(of words: [UInt32]) -> String {
        var remaining = words
        var digits: [Character] = []
        while remaining.contains(where: { $0 != 0 }) {
            var carry: UInt64 = 0
            for index in remaining.indices {
                let value = (carry << 32) | UInt64(remaining[index])
                remaining[index] = UInt32(value / 10)
                carry = value % 10
            }
            digits.append(Character(String(carry)))
        }
        return digits.isEmpty ? "0" : String(digits.reversed())
    }
}

/// SOP classes medsynth treats apart from images.
public enum SOPClass {
    /// DICOM Segmentation (PS3.3 A.51) and Label Map Segmentation (A.51.2):
    /// labels of other frames, imported as masks, never trained on.
    public static let segmentations = ["1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7"]

    /// `segmentations` as an SQL list: `('…', '…')`.
    public static var segmentationSQLList: String {
        "(" + segmentations.map { "'\($0)'" }.joined(separator: ", ") + ")"
    }
}
