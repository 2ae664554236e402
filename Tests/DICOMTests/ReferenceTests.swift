import DICOM
import Foundation
import TestSupport
import Testing

/// reference.json, written by Fixtures/make_reference.py with pydicom and numpy.
struct ReferenceFile: Decodable, Sendable, CustomTestStringConvertible {
    struct FrameCheck: Decodable, Sendable {
        let frame: Int
        let mean: Double
        let samples: [Int]
    }
    let file: String
    let sopInstanceUid: String
    let studyInstanceUid: String?
    let seriesInstanceUid: String?
    let patientId: String
    let modality: String?
    let transferSyntaxUid: String
    let rows: Int
    let columns: Int
    let frames: Int
    let samplesPerPixel: Int
    let photometricInterpretation: String?
    /// nil: pydicom could not decode it either.
    let decodable: Bool?
    let frameChecks: [FrameCheck]

    var testDescription: String { file }

    static let all: [ReferenceFile] = {
        struct Document: Decodable { let files: [ReferenceFile] }
        let url = Bundle.module.url(forResource: "reference", withExtension: "json", subdirectory: "Fixtures")!
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(Document.self, from: Data(contentsOf: url)).files
    }()
}

/// Files pydicom decodes but DCMTK 3.6.7 cannot render; they must be
/// catalogued as not decodable, with DCMTK's reason.
let dcmtkRenderingLimits: Set<String> = [
    "pydicom-data/SC_rgb_32bit.dcm", "pydicom-data/SC_rgb_32bit_2frame.dcm",
    "pydicom-data/SC_rgb_expb_32bit.dcm", "pydicom-data/SC_rgb_expb_32bit_2frame.dcm",
    // Segmented palette colour lookup tables.
    "pydicom-data/gdcm-US-ALOKA-16.dcm", "pydicom-data/gdcm-US-ALOKA-16_big.dcm",
]

/// How far medsynth's frames may be from the reference. Lossy JPEG decoders
/// (IJG in DCMTK, libjpeg-turbo in pydicom's plugins) may differ by a few
/// levels. DCMTK truncates its YCbCr-to-RGB results where pydicom rounds,
/// which moves the mean by a fraction of a level. Everything else differs by
/// at most one level in a few pixels: DCMTK's floating-point window lands just
/// below an integer for some values and then truncates.
func tolerance(for reference: ReferenceFile) -> (sample: Int, mean: Double) {
    let lossyJPEG = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"]
    if lossyJPEG.contains(reference.transferSyntaxUid) { return (4, 0.5) }
    if reference.photometricInterpretation?.hasPrefix("YBR") == true { return (1, 0.5) }
    return (1, 0.1)
}

@Suite("DCMTK bridge against pydicom")
struct ReferenceTests {
    @Test("metadata", arguments: ReferenceFile.all)
    func metadata(reference: ReferenceFile) throws {
        let file = try DicomFile(path: Samples.path(reference.file))
        let metadata = try InstanceMetadata(file: file)
        #expect(metadata.sopInstanceUID == reference.sopInstanceUid)
        #expect(metadata.studyInstanceUID == reference.studyInstanceUid)
        #expect(metadata.seriesInstanceUID == reference.seriesInstanceUid)
        #expect(metadata.patientID == reference.patientId)
        #expect(metadata.modality == reference.modality)
        #expect(metadata.transferSyntaxUID == reference.transferSyntaxUid)
        #expect(metadata.rows == reference.rows)
        #expect(metadata.columns == reference.columns)
        #expect(metadata.frames == reference.frames)
        #expect(metadata.samplesPerPixel == reference.samplesPerPixel)
        #expect(metadata.photometricInterpretation == reference.photometricInterpretation)
        if dcmtkRenderingLimits.contains(reference.file) {
            #expect(!metadata.decodable)
            #expect(metadata.undecodableReason?.contains("DCMTK does not render") == true)
        } else {
            #expect(metadata.decodable == (reference.decodable ?? false), "\(metadata.undecodableReason ?? "")")
        }
    }

    @Test(
        "8-bit grayscale frames",
        arguments: ReferenceFile.all.filter {
            !$0.frameChecks.isEmpty && !dcmtkRenderingLimits.contains($0.file)
        })
    func grayFrames(reference: ReferenceFile) throws {
        let file = try DicomFile(path: Samples.path(reference.file))
        let allowed = tolerance(for: reference)
        for check in reference.frameChecks {
            let frame = try file.grayFrame(check.frame)
            #expect(frame.width == reference.columns && frame.height == reference.rows)
            let mean = Double(frame.pixels.reduce(0) { $0 + Int($1) }) / Double(frame.pixels.count)
            var samples: [Int] = []
            for i in 0..<8 {
                for j in 0..<8 {
                    let y = (2 * i + 1) * frame.height / 16, x = (2 * j + 1) * frame.width / 16
                    samples.append(Int(frame.pixels[y * frame.width + x]))
                }
            }
            let largest = zip(samples, check.samples).map { abs($0 - $1) }.max()!
            print(
                "\(reference.file) frame \(check.frame): largest sample difference \(largest), mean difference \(String(format: "%.4f", abs(mean - check.mean)))"
            )
            #expect(largest <= allowed.sample, "frame \(check.frame)")
            #expect(abs(mean - check.mean) <= allowed.mean, "frame \(check.frame): mean \(mean) vs \(check.mean)")
        }
    }
}
