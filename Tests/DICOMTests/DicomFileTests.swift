import Foundation
import TestSupport
import Testing

@testable import DICOM

@Suite("DICOM files: limits and bad input")
struct DicomFileTests {
    @Test("a truncated cine is rejected before any frame is allocated, naming the file")
    func truncatedPixelData() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("deid-data/GREYSCALE_CINE.dcm")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        let truncated = folder.file("truncated.dcm")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let error = #expect(throws: DicomError.self) {
            let file = try DicomFile(path: truncated)
            _ = try InstanceMetadata(file: file)
        }
        #expect(error?.path == truncated)
        print("truncated cine: \(error?.reason ?? "")")
    }

    @Test("garbage after a DICOM preamble is rejected with DCMTK's reason")
    func garbageAfterPreamble() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var bytes = Data(count: 128) + Data(Array("DICM".utf8))
        var generator = SystemRandomNumberGenerator()
        bytes += Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let path = folder.file("garbage.dcm")
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try DicomProbe.classify(path: path) == .part10)
        let error = #expect(throws: DicomError.self) {
            _ = try InstanceMetadata(file: DicomFile(path: path))
        }
        #expect(error?.path == path)
    }

    @Test("names in a declared character set (ISO_IR 100) are read as UTF-8 letters")
    func latin1Name() throws {
        let url = try #require(Bundle.module.url(forResource: "latin1-name", withExtension: "dcm", subdirectory: "Fixtures"))
        let metadata = try InstanceMetadata(file: DicomFile(path: url.path))
        #expect(metadata.patientName == "Müller^Jürgen")
        #expect(metadata.studyDescription == "Schädel Übersicht")
    }

    @Test("a file the fuzzer found (an illegal VR hides RLE offsets that lie from the pre-scan) is rejected, not decoded")
    func fuzzerFinding() throws {
        let url = try #require(
            Bundle.module.url(
                forResource: "rle-offset-past-fragment", withExtension: "dcm",
                subdirectory: "Fixtures/fuzz"))
        let error = #expect(throws: DicomError.self) { _ = try InstanceMetadata(file: DicomFile(path: url.path)) }
        #expect(error?.reason == "RLE frame 3: segment 1 offset 2294130 lies outside the fragment of 4530 bytes")
    }

    @Test("a file the fuzzer found (a JPEG TEM marker on which DCMTK's marker scan never returns) is rejected at once")
    func fuzzerFindingJPEGMarker() throws {
        let url = try #require(Bundle.module.url(forResource: "jpeg-tem-marker", withExtension: "dcm", subdirectory: "Fixtures/fuzz"))
        let error = #expect(throws: DicomError.self) { _ = try InstanceMetadata(file: DicomFile(path: url.path)) }
        #expect(
            error?.reason.hasPrefix("pixel data fragment 1 has a JPEG TEM marker (0xFF01) before the frame header") == true,
            "\(error?.reason ?? "")")
    }

    @Test("non-DICOM files are told apart by their first bytes")
    func probe() throws {
        #expect(DicomProbe.classify(head: Data("# README\n\nsome text".utf8)) == .notDicom)
        #expect(DicomProbe.classify(head: Data()) == .notDicom)
        #expect(DicomProbe.classify(head: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])) == .notDicom)
        #expect(try DicomProbe.classify(path: Samples.path("pydicom-data/OT-PAL-8-face.dcm")) == .bareDataset)
        #expect(try DicomProbe.classify(path: Samples.path("pydicom-data/emri_small.dcm")) == .part10)
    }

    @Test("sequences nested deeper than the limit are refused; shallower ones are read")
    func nestingLimit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let deep = folder.file("deep.dcm"), shallow = folder.file("shallow.dcm")
        try DicomBytes.nestedSequences(depth: Int(MS_MAX_SEQUENCE_DEPTH) + 4).write(to: URL(fileURLWithPath: deep))
        try DicomBytes.nestedSequences(depth: 3).write(to: URL(fileURLWithPath: shallow))
        let error = #expect(throws: DicomError.self) { _ = try DicomFile(path: deep) }
        #expect(error?.reason.contains("nested deeper") == true)
        #expect(try DicomFile(path: shallow).string(.sopInstanceUID) == "2.25.1")
    }

    @Test("image sizes over the limits are refused before decoding")
    func sizeLimits() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let huge = folder.file("huge.dcm")
        let file = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        try file.setString(.rows, "65535")
        try file.setString(.columns, "65535")
        try file.save(to: huge)
        let hugeError = #expect(throws: DicomError.self) { _ = try DicomFile(path: huge).grayFrame(0) }
        #expect(hugeError?.reason.contains("more than the limit") == true)

        let many = folder.file("many.dcm")
        let other = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        try other.setString(.numberOfFrames, "5000000")
        try other.save(to: many)
        let manyError = #expect(throws: DicomError.self) { _ = try InstanceMetadata(file: DicomFile(path: many)) }
        #expect(manyError?.reason.contains("Number of Frames") == true)
    }

    @Test("more frames claimed than the pixel data holds is refused, with the byte counts")
    func framesBeyondPixelData() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        try file.setString(.numberOfFrames, "40")
        try file.save(to: folder.file("claims40.dcm"))
        let error = #expect(throws: DicomError.self) {
            _ = try InstanceMetadata(file: DicomFile(path: folder.file("claims40.dcm")))
        }
        #expect(error?.reason == "pixel data has 81920 bytes, 40 frames of 64x64 need 327680")
    }

    @Test("frames out of range are an error, not a crash")
    func frameOutOfRange() throws {
        let file = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        #expect(throws: DicomError.self) { _ = try file.grayFrame(10) }
        #expect(throws: DicomError.self) { _ = try file.grayFrame(-1) }
        #expect(try file.grayFrame(9).pixels.count == 64 * 64)
    }

    @Test("a transfer syntax without a decoder is read but not decodable, with the reason")
    func noDecoder() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let copy = folder.file("part2.dcm")
        try Samples.writeUndecodableCopy(of: "pydicom-data/US1_J2KR.dcm", to: copy)
        let metadata = try InstanceMetadata(file: DicomFile(path: copy))
        #expect(metadata.transferSyntaxUID == "1.2.840.10008.1.2.4.93")
        #expect(!metadata.decodable)
        #expect(metadata.undecodableReason?.contains("no decoder for transfer syntax") == true)
    }

    @Test("Synthetic Data and Conversion Type SYN mark an instance synthetic")
    func syntheticMarks() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        #expect(try !InstanceMetadata(file: file).isSynthetic)
        try file.setString(.syntheticData, "YES", vr: "CS")
        try file.save(to: folder.file("synthetic.dcm"))
        let reread = try InstanceMetadata(file: DicomFile(path: folder.file("synthetic.dcm")))
        #expect(reread.syntheticData == "YES" && reread.isSynthetic)
        #expect(try InstanceMetadata(file: DicomFile(path: Samples.path("pydicom-data/SC_rgb_dcmtk_ebcr_dcmd.dcm"))).isSynthetic)
    }

    @Test("2.25 UIDs: the UUID as one decimal integer, unique, at most 64 characters")
    func uids() {
        #expect(DicomUID.decimal(of: [0, 0, 0, 0]) == "0")
        #expect(DicomUID.decimal(of: [0, 0, 0, 1_000_000]) == "1000000")
        #expect(
            DicomUID.decimal(of: [UInt32.max, UInt32.max, UInt32.max, UInt32.max])
                == "340282366920938463463374607431768211455")
        let uids = (0..<1000).map { _ in DicomUID.make() }
        #expect(Set(uids).count == uids.count)
        #expect(uids.allSatisfy { $0.hasPrefix("2.25.") && $0.count <= 64 && !$0.dropFirst(5).hasPrefix("0") })
    }

    @Test("SHA-256 of a file matches the sha256sum of coreutils")
    func digest() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try Data("abc".utf8).write(to: folder.url.appendingPathComponent("abc"))
        #expect(
            try FileDigest.sha256(path: folder.file("abc"))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: DicomError.self) { _ = try FileDigest.sha256(path: folder.file("missing")) }
    }
}
