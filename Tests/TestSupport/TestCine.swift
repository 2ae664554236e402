import DICOM
import Engine
import Foundation
import Imaging

/// A US Multi-frame file of 8-bit MONOCHROME2 frames written for a test,
/// with the Sequence of Ultrasound Regions the test gives.
public enum TestCine {
    /// Writes `frames` (each `width` x `height` bytes) and `regions` to
    /// `path`; `perFrameRegions[k]`, when given, go into frame k's item of
    /// the Per-frame Functional Groups Sequence.
    public static func write(
        frames: [[UInt8]], width: Int, height: Int, regions: [UltrasoundRegion], perFrameRegions: [[UltrasoundRegion]] = [],
        patientID: String = "TEST-CINE", to path: String
    ) throws {
        let file = DicomFile(newDatasetFor: path)
        let attributes: [(DicomTag, String)] = [
            (.sopClassUID, "1.2.840.10008.5.1.4.1.1.3.1"), (.sopInstanceUID, DicomUID.make()),
            (.studyInstanceUID, DicomUID.make()), (.seriesInstanceUID, DicomUID.make()), (.modality, "US"),
            (.patientName, "TEST^CINE"), (.patientID, patientID), (.instanceNumber, "1"), (.seriesNumber, "1"),
            (.samplesPerPixel, "1"), (.photometricInterpretation, "MONOCHROME2"), (.rows, "\(height)"), (.columns, "\(width)"),
            (.bitsAllocated, "8"), (.bitsStored, "8"), (.highBit, "7"), (.pixelRepresentation, "0"),
            (.numberOfFrames, "\(frames.count)"),
        ]
        for (tag, value) in attributes { try file.setString(atPath: DicomPath(tag).description, value) }
        try writeRegions(regions, into: file) { DicomPath(.sequenceOfUltrasoundRegions).item($0, $1) }
        for (frame, frameRegions) in perFrameRegions.enumerated() {
            try writeRegions(frameRegions, into: file) {
                DicomPath(.perFrameFunctionalGroupsSequence).item(frame, .sequenceOfUltrasoundRegions).item($0, $1)
            }
        }
        try file.setPixelData(bytes: Array(frames.joined()))
        try file.save(to: path)
    }

    /// Each region's attributes at `path(item, tag)`.
    private static func writeRegions(_ regions: [UltrasoundRegion], into file: DicomFile, path: (Int, DicomTag) -> DicomPath) throws {
        for (item, region) in regions.enumerated() {
            let values: [(DicomTag, Int)] = [
                (.regionSpatialFormat, region.spatialFormat), (.regionDataType, region.dataType),
                (.regionLocationMinX0, region.minX0), (.regionLocationMinY0, region.minY0),
                (.regionLocationMaxX1, region.maxX1), (.regionLocationMaxY1, region.maxY1),
            ]
            for (tag, value) in values { try file.setString(atPath: path(item, tag).description, "\(value)") }
        }
    }

    /// Every frame of `path` as DCMTK decodes it for training (8-bit gray).
    public static func grayFrames(of path: String) throws -> (frames: [[UInt8]], width: Int, height: Int) {
        let file = try DicomFile(path: path)
        let geometry = file.geometry
        return (try (0..<geometry.frames).map { try file.grayFrame($0).pixels }, geometry.columns, geometry.rows)
    }

    public static let textValue: UInt8 = 250

    /// `frames` frames of 200 x 150: black around a speckle rectangle whose
    /// Rayleigh-like values change every frame, with static text (a few
    /// strokes of value 250) inside it and a static header line above it.
    public static func speckle(frames count: Int, seed: UInt64) -> (
        frames: [[UInt8]], width: Int, height: Int, speckle: PixelRectangle, text: [Int]
    ) {
        let width = 200, height = 150
        let speckle = PixelRectangle(x0: 20, y0: 24, x1: 179, y1: 139)
        var text: [Int] = []
        for glyph in 0..<6 {
            let left = 40 + glyph * 14
            for y in 110..<122 { text += [y * width + left, y * width + left + 1] }  // stem
            for x in left..<(left + 8) { text += [110 * width + x, 116 * width + x] }  // bars
        }
        let header = (4..<12).flatMap { y in (30..<150).filter { $0 % 3 != 0 }.map { y * width + $0 } }
        var generator = EngineRandom(seed: seed)
        let frames = (0..<count).map { _ in
            var frame = [UInt8](repeating: 0, count: width * height)
            for y in speckle.y0...speckle.y1 {
                for x in speckle.x0...speckle.x1 {
                    let uniform = (Double(generator.nextUInt64() >> 11) + 0.5) / Double(1 << 53)
                    frame[y * width + x] = UInt8(min(230, 20 + 45 * (-2 * log(uniform)).squareRoot()))
                }
            }
            for pixel in text + header { frame[pixel] = textValue }
            return frame
        }
        return (frames, width, height, speckle, Array(Set(text)).sorted())
    }
}
