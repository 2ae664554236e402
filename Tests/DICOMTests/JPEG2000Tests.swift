import DICOM
import Foundation
import TestSupport
import Testing

/// A JPEG 2000 sample and the uncompressed file of the same pixels the corpus
/// ships beside it. Lossless (`_J2KR`) files must give their twin's samples
/// exactly. A lossy (`_J2KI`) file's twin `_UNCI` holds its decoded pixels as
/// the corpus's authors decoded them; pydicom with Pillow's OpenJPEG gives
/// those exactly too, so `_UNCI` stands for an independent decoder here (the
/// 8-bit frames are also checked against pylibjpeg-openjpeg in ReferenceTests).
struct JPEG2000Twin: Sendable, CustomTestStringConvertible {
    let compressed: String
    let uncompressed: String
    /// The largest difference of a sample allowed: lossy decoders may round differently.
    let tolerance: Int32

    var testDescription: String { compressed }

    static let all: [JPEG2000Twin] = [
        .init(compressed: "US1_J2KR", uncompressed: "US1_UNCR", tolerance: 0),
        .init(compressed: "MR2_J2KR", uncompressed: "MR2_UNCR", tolerance: 0),
        .init(compressed: "RG1_J2KR", uncompressed: "RG1_UNCR", tolerance: 0),
        .init(compressed: "RG3_J2KR", uncompressed: "RG3_UNCR", tolerance: 0),
        .init(compressed: "693_J2KR", uncompressed: "693_UNCR", tolerance: 0),
        .init(compressed: "emri_small_jpeg_2k_lossless", uncompressed: "emri_small", tolerance: 0),
        .init(compressed: "US1_J2KI", uncompressed: "US1_UNCI", tolerance: 1),
        .init(compressed: "MR2_J2KI", uncompressed: "MR2_UNCI", tolerance: 1),
        .init(compressed: "RG1_J2KI", uncompressed: "RG1_UNCI", tolerance: 1),
        .init(compressed: "RG3_J2KI", uncompressed: "RG3_UNCI", tolerance: 1),
    ]
}

@Suite("JPEG 2000 through OpenJPEG")
struct JPEG2000Tests {
    @Test("every frame equals the uncompressed twin's (lossless) or is within 1 of it (lossy)", arguments: JPEG2000Twin.all)
    func twin(_ twin: JPEG2000Twin) throws {
        let compressed = try DicomFile(path: Samples.path("pydicom-data/\(twin.compressed).dcm"))
        let uncompressed = try DicomFile(path: Samples.path("pydicom-data/\(twin.uncompressed).dcm"))
        #expect(compressed.geometry == uncompressed.geometry)
        for frame in 0..<compressed.geometry.frames {
            let decoded = try compressed.storedSamples(ofFrame: frame)
            let expected = try uncompressed.storedSamples(ofFrame: frame)
            #expect(decoded.count == expected.count)
            let largest = zip(decoded, expected).map { abs($0 - $1) }.max() ?? 0
            print("\(twin.compressed) frame \(frame): largest sample difference \(largest) from \(twin.uncompressed)")
            #expect(largest <= twin.tolerance, "frame \(frame)")
        }
    }

    @Test("frames split over several fragments, without an offset table, are found by their codestream starts")
    func fragmentedFrames() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let split = folder.file("split.dcm")
        // pydicom re-encapsulates the 10 frames of the lossless MR sample in 2 fragments each, with an empty offset table.
        let script = """
            import sys, pydicom
            from pydicom.encaps import generate_pixel_data_frame, encapsulate
            ds = pydicom.dcmread(sys.argv[1])
            frames = list(generate_pixel_data_frame(ds.PixelData, int(ds.NumberOfFrames)))
            ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=False)
            ds.save_as(sys.argv[2])
            """
        let made = try ExternalProcess.run(
            "/usr/bin/python3", ["-c", script, Samples.path("pydicom-data/emri_small_jpeg_2k_lossless.dcm"), split])
        #expect(made.status == 0, "\(made.standardError)")
        let file = try DicomFile(path: split)
        let twin = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        for frame in [0, 4, 9] {
            #expect(try file.storedSamples(ofFrame: frame) == twin.storedSamples(ofFrame: frame), "frame \(frame)")
        }
    }

    @Test("a colour codestream comes out RGB, as the twin stores it")
    func colour() throws {
        let file = try DicomFile(path: Samples.path("pydicom-data/US1_J2KR.dcm"))
        #expect(file.string(.photometricInterpretation) == "YBR_RCT")
        let frame = try file.displayFrame(0)
        let twin = try DicomFile(path: Samples.path("pydicom-data/US1_UNCR.dcm")).displayFrame(0)
        #expect(frame.channels == 3 && frame.pixels == twin.pixels)
    }

    @Test("a codestream that disagrees with the dataset is refused before it is decoded, with the reason")
    func mismatchedHeader() throws {
        // Rows 480 -> 240 in the dataset: the codestream still says 640x480.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try DicomFile(path: Samples.path("pydicom-data/US1_J2KR.dcm"))
        try file.setString(.rows, "240")
        try file.save(to: folder.file("rows.dcm"))
        let changed = try DicomFile(path: folder.file("rows.dcm"))
        let error = try #require(throws: DicomError.self) { _ = try changed.storedSamples(ofFrame: 0) }
        #expect(error.reason.contains("the codestream's image is 640x480, the dataset's 640x240"), "\(error)")
        // Import proves every frame, so such a file is rejected with the same reason.
        let rejected = try #require(throws: DicomError.self) { _ = try InstanceMetadata(file: changed) }
        #expect(rejected.reason.contains("the codestream's image is 640x480"), "\(rejected)")
    }
}
