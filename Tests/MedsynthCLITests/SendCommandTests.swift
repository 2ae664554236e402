import DICOM
import Foundation
import TestSupport
import Testing

@Suite("send: a Storage SCU against DCMTK's storescp")
struct SendCommandTests {
    @Test("catalogued instances arrive; JPEG 2000 is decompressed for a receiver that accepts only uncompressed data")
    func sendsCatalogued() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        let samples = ["emri_small.dcm", "US1_J2KR.dcm", "693_J2KR.dcm"].map { Samples.path("pydicom-data/\($0)") }
        #expect(try Medsynth.run(["import", "--catalog", catalog] + samples).status == 0)
        let received = folder.url.appendingPathComponent("received")
        try FileManager.default.createDirectory(at: received, withIntermediateDirectories: true)
        let peer = try StoreSCP(folder: received)
        defer { peer.stop() }

        let sent = try Medsynth.run(["send", "--catalog", catalog, "--to", peer.address])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(sent.standardOutput.contains("Sent to \(peer.address): 3 of 3 instances stored"), "\(sent.standardOutput)")
        // storescp names each file <modality>.<SOP Instance UID>.
        let arrived = try FileManager.default.contentsOfDirectory(atPath: received.path).sorted()
        #expect(arrived.count == 3, "\(arrived)")
        let jpeg2000 = try #require(arrived.first { $0.hasSuffix("1.3.6.1.4.1.5962.1.1.13.1.2.20040826185059.5457") })
        let copy = try DicomFile(path: received.appendingPathComponent(jpeg2000).path)
        #expect(copy.transferSyntax.uid == "1.2.840.10008.1.2.1")
        let original = try DicomFile(path: Samples.path("pydicom-data/US1_J2KR.dcm"))
        #expect(try copy.storedSamples(ofFrame: 0) == original.storedSamples(ofFrame: 0))
        #expect(copy.string(.photometricInterpretation) == "RGB")

        // Filters choose: only the MR instance.
        let filtered = try Medsynth.run(["send", "--catalog", catalog, "--to", peer.address, "--modality", "MR"])
        #expect(filtered.status == 0 && filtered.standardOutput.contains("1 of 1 instances stored"))
        let none = try Medsynth.run(["send", "--catalog", catalog, "--to", peer.address, "--modality", "XA"])
        #expect(none.status == 22 && none.standardError == "medsynth: no catalogued instances pass the filters\n")
    }

    @Test("files given are sent; one the receiver takes no presentation context for is named, exit 1")
    func partialFailure() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let files = folder.url.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Samples.path("pydicom-data/emri_small.dcm"), toPath: files.appendingPathComponent("a.dcm").path)
        // A private SOP class, which storescp does not accept.
        let unknown = try DicomFile(path: Samples.path("pydicom-data/SC_rgb.dcm"))
        try unknown.setString(.sopClassUID, "1.2.826.0.1.3680043.9.9999.1")
        try unknown.save(to: files.appendingPathComponent("b.dcm").path)
        let received = folder.url.appendingPathComponent("received")
        try FileManager.default.createDirectory(at: received, withIntermediateDirectories: true)
        let peer = try StoreSCP(folder: received)
        defer { peer.stop() }

        let sent = try Medsynth.run(["send", "--to", peer.address, files.path])
        #expect(sent.status == 1)
        #expect(sent.standardOutput.contains("1 of 2 instances stored"))
        // DCMTK's own log line names the SOP class too.
        #expect(
            sent.standardError.contains(
                "medsynth: not stored (not sent: the receiver accepted no presentation context for it): \(files.path)/b.dcm\n"))
        #expect(!sent.standardError.contains("a.dcm"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: received.path).count == 1)
    }

    @Test("no receiver: exit 80 naming it; bad addresses and mixed selections are usage errors")
    func errors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        #expect(try Medsynth.run(["import", "--catalog", catalog, Samples.path("pydicom-data/emri_small.dcm")]).status == 0)
        let port = try StoreSCP.freePort()
        let refused = try Medsynth.run(["send", "--catalog", catalog, "--to", "PEER@127.0.0.1:\(port)", "--timeout", "5"])
        #expect(refused.status == 80)
        #expect(refused.standardError.contains("association with PEER@127.0.0.1:\(port) failed"), "\(refused.standardError)")
        #expect(refused.standardOutput.contains("0 of 1 instances stored (1 not sent: the association failed first)"))
        for address in ["127.0.0.1:104", "PEER@127.0.0.1", "A_TITLE_OF_17_CHAR@h:104", "PEER@h:0"] {
            #expect(try Medsynth.run(["send", "--catalog", catalog, "--to", address]).status == 2, "\(address)")
        }
        let mixed = try Medsynth.run(["send", "--to", "PEER@127.0.0.1:104", "--modality", "US", folder.path])
        #expect(mixed.status == 2 && mixed.standardError.contains("either paths to send or catalog filters"))
    }
}

@Suite("send: synthetic DICOM to Orthanc")
struct SendToOrthancTests {
    @Test("a synthesize folder sent to Orthanc is listed by its REST API, every instance marked Synthetic Data YES")
    func synthesizedToOrthanc() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let checkpoint = try SynthesizeCommandTests.foreignCheckpoint(in: folder)
        let out = folder.file("out")
        let synthesized = try Medsynth.run([
            "synthesize", "--model", checkpoint, "--count", "4", "--frames-per-file", "2", "--seed", "3", "--out", out,
            "--no-catalog", "--no-privacy-filter",
        ])
        #expect(synthesized.status == 0, "\(synthesized.standardError)")
        let orthancFolder = folder.url.appendingPathComponent("orthanc")
        try FileManager.default.createDirectory(at: orthancFolder, withIntermediateDirectories: true)
        let orthanc = try OrthancPeer(folder: orthancFolder)
        defer { orthanc.stop() }

        let sent = try Medsynth.run(["send", "--to", orthanc.address, out])
        #expect(sent.status == 0, "\(sent.standardError)")
        #expect(sent.standardOutput.contains("2 of 2 instances stored"), "\(sent.standardOutput)")
        let ids = try #require(try JSONSerialization.jsonObject(with: orthanc.get("/instances")) as? [String])
        #expect(ids.count == 2)
        for id in ids {
            let synthetic = String(decoding: try orthanc.get("/instances/\(id)/content/0008-001c"), as: UTF8.self)
            #expect(synthetic.trimmingCharacters(in: .whitespaces.union(.controlCharacters)) == "YES")
        }
    }
}
