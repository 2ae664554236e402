import Catalog
import DICOM
import Engine
import Foundation
import GAN
import Imaging
import Ingest
import TestSupport
import Testing
import Training

@testable import Frames
@testable import ModelStore
@testable import Synthesis

/// A catalog with three real US instances of three patients (one cine, two
/// single frames) and an MR image, and a US model trained on them for two steps.
struct TrainedModelFixture {
    static let trainingSamples = ["deid-data/GREYSCALE_CINE.dcm", "pydicom-data/US1_UNCR.dcm", "pydicom-data/OBXXXX1A.dcm"]
    let folder: TemporaryFolder
    let catalog: Catalog
    let model: TrainedModel

    init() throws {
        folder = try TemporaryFolder()
        catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        _ = try Importer(catalog: catalog).run(paths: (Self.trainingSamples + ["pydicom-data/emri_small.dcm"]).map(Samples.path))
        var request = TrainingRequest(modality: "US")
        request.name = "us-test"
        request.batchSize = 4
        request.threads = 2
        request.validationFraction = 0
        request.gridEveryEpochs = 1000
        request.checkpointEverySteps = 1000
        let trainer = try ModelTrainer.create(request, catalog: catalog)
        _ = try trainer.train(.steps(2))
        model = try TrainedModel.open("us-test", catalog: catalog)
    }

    func synthesize(
        _ latents: SynthesisRequest.LatentRequest, format: OutputFormat = .dicom, framesPerFile: Int = 1,
        register: Bool = true, into name: String
    ) throws -> SynthesisResult {
        var request = SynthesisRequest(latentSource: latents, output: folder.url.appendingPathComponent(name))
        request.format = format
        request.framesPerFile = framesPerFile
        request.register = register
        request.batchSize = 4
        return try Synthesizer.run(model: model, request: request, catalog: catalog)
    }

    func paths(_ result: SynthesisResult) -> [String] {
        result.files.map { result.folder.appendingPathComponent($0).path }
    }
}

/// The pixel bytes of every frame of a DICOM file, decoded by DCMTK.
func decodedFrames(_ path: String) throws -> [[UInt8]] {
    let file = try DicomFile(path: path)
    return try (0..<file.geometry.frames).map { try file.grayFrame($0).pixels }
}

@Suite("Synthetic DICOM export", .serialized)
struct SyntheticExportTests {
    init() { EngineThreads.configure(2) }

    @Test("Burned In Annotation is NO only when every frame came from a stated tissue region with its annotations masked")
    func burnedInAnnotationFollowsThePreparation() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        let paths = try [UInt64(1), 2].map { seed in
            let cine = TestCine.speckle(frames: 8, seed: seed), region = cine.speckle
            let path = folder.file("cine-\(seed).dcm")
            try TestCine.write(
                frames: cine.frames, width: cine.width, height: cine.height,
                regions: [
                    UltrasoundRegion(spatialFormat: 1, dataType: 1, minX0: region.x0, minY0: region.y0, maxX1: region.x1, maxY1: region.y1)
                ],
                patientID: "P\(seed)", to: path)
            return path
        }
        _ = try Importer(catalog: catalog).run(paths: paths)
        var stated: [AnnotationHandling: String] = [:]
        for annotations in AnnotationHandling.allCases {
            var request = TrainingRequest(modality: "US")
            request.name = "us-\(annotations.rawValue)"
            request.annotations = annotations
            request.batchSize = 4
            request.threads = 2
            request.validationFraction = 0
            request.gridEveryEpochs = 1000
            request.checkpointEverySteps = 1000
            _ = try ModelTrainer.create(request, catalog: catalog).train(.steps(1))
            var synthesis = SynthesisRequest(latentSource: .seed(1, count: 1), output: folder.url.appendingPathComponent(request.name))
            synthesis.register = false
            let result = try Synthesizer.run(
                model: try TrainedModel.open(request.name, catalog: catalog), request: synthesis, catalog: catalog)
            stated[annotations] = try DicomFile(path: result.folder.appendingPathComponent(result.files[0]).path).string(
                .burnedInAnnotation)
        }
        #expect(stated == [.mask: "NO", .keep: "YES"])
    }

    @Test("every file passes dciodvfy (no error but the unknown 0008,001C), reads in dcmdump and pydicom, and states its provenance")
    func validAndMarked() throws {
        let fixture = try TrainedModelFixture()
        defer { fixture.folder.remove() }
        let result = try fixture.synthesize(.seed(11, count: 6), framesPerFile: 4, into: "out")
        #expect(result.files == ["synthetic-000000.dcm", "synthetic-000004.dcm"])
        for (path, indices) in zip(fixture.paths(result), [[0, 1, 2, 3], [4, 5]]) {
            let validation = try ExternalProcess.run("dciodvfy", [path])
            let errors = (validation.standardOutput + validation.standardError).split(separator: "\n")
                .filter { $0.hasPrefix("Error") && !$0.contains("(0x0008,0x001c)") }
            #expect(errors.isEmpty, "dciodvfy \(path): \(errors)")
            #expect(validation.standardError.contains("MultiframeGrayscaleByteSCImage"), "dciodvfy did not recognise the IOD")

            let dump = try ExternalProcess.run("dcmdump", ["+L", path])
            #expect(dump.status == 0)
            for expected in [
                "(0008,001c) CS [YES]", "(0008,0064) CS [SYN]", "(0008,0008) CS [DERIVED\\SECONDARY]",
                "(0008,0060) CS [US]", "(0008,0100) SH [109100]", "(0008,0102) SH [DCM]",
                "(0008,0104) LO [Synthesizing Equipment]", "(0012,0062) CS [YES]",
                "(0028,0301) CS [YES]", "(0010,0010) PN [SYNTHETIC^US]", "MultiframeGrayscaleByteSecondaryCaptureImageStorage",
                "(0008,0070) LO [medsynth]", "(0018,1020) LO [\(SoftwareVersion.current)]",
            ] {
                #expect(dump.standardOutput.contains(expected), "dcmdump of \(path) lacks \(expected)")
            }
            let latents = indices.count == 1 ? "latent index \(indices[0])" : "latent indices \(indices.first!)-\(indices.last!)"
            let contribution = try #require(dump.standardOutput.split(separator: "\n").first { $0.contains("ContributionDescription") })
            for part in ["us-test", fixture.model.checkpointDigest, "seed 11", latents] {
                #expect(contribution.contains(part), "Contribution Description lacks \(part): \(contribution)")
            }
            let file = try DicomFile(path: path)
            let derivation = try #require(file.string(.derivationDescription))
            #expect(
                derivation.contains("us-test") && derivation.contains("seed 11") && derivation.contains(latents)
                    && derivation.contains(fixture.model.checkpointDigest.prefix(16)))
            #expect(file.string(.deidentificationMethod)?.isEmpty == false)
            #expect(file.string(.studyInstanceUID) == result.synthesis?.studyInstanceUid)
            #expect(file.string(.seriesInstanceUID) == result.synthesis?.seriesInstanceUid)
            for uid in [file.string(.studyInstanceUID), file.string(.seriesInstanceUID), file.string(.sopInstanceUID)] {
                #expect(uid?.hasPrefix("2.25.") == true)
            }
        }

        // pydicom reads every file: Debian's python3-pydicom first, else any python3 that has it.
        let script = """
            import sys, pydicom
            for path in sys.argv[1:]:
                d = pydicom.dcmread(path)
                assert len(d.PixelData) == d.Rows * d.Columns * int(d.NumberOfFrames), path
                print(d.SOPClassUID, d[0x0008, 0x001C].value, d.ConversionType, int(d.NumberOfFrames))
            """
        let python = FileManager.default.fileExists(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        var read = try ExternalProcess.run(python, ["-c", script] + fixture.paths(result))
        if read.status != 0, read.standardError.contains("No module named 'pydicom'") {
            read = try ExternalProcess.run("python3", ["-c", script] + fixture.paths(result))
        }
        #expect(read.status == 0, "pydicom: \(read.standardError)")
        #expect(read.standardOutput == "1.2.840.10008.5.1.4.1.1.7.2 YES SYN 4\n1.2.840.10008.5.1.4.1.1.7.2 YES SYN 2\n")
    }

    @Test("no identifying value of any training instance occurs in the bytes of any exported file")
    func noTrainingIdentity() throws {
        let fixture = try TrainedModelFixture()
        defer { fixture.folder.remove() }
        let tags: [DicomTag] = [
            .patientName, .patientID, .patientBirthDate, .institutionName, .stationName, .accessionNumber,
            .studyInstanceUID, .seriesInstanceUID, .sopInstanceUID, .studyDate,
        ]
        var identifying = Set<String>()
        let lineage = try fixture.catalog.lineage(modelId: fixture.model.record!.id!)
        #expect(lineage.count == TrainedModelFixture.trainingSamples.count)
        for (candidate, _) in lineage {
            let file = try DicomFile(path: fixture.catalog.storage.absolutePath(relative: candidate.storedPath))
            for tag in tags {
                if let value = file.string(tag), value.count >= 4 { identifying.insert(value) }
            }
        }
        #expect(identifying.contains("ZZZ TEST PATIENTFIVE^NEW^P^") || identifying.contains("ZZZ TEST PATIENTFIVE^NEW^P"))
        #expect(identifying.count >= 20)
        // The scan finds what is there: every training file holds some of these values.
        for (candidate, _) in lineage {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.catalog.storage.absolutePath(relative: candidate.storedPath)))
            #expect(identifying.contains { bytes.range(of: Data($0.utf8)) != nil })
        }
        let single = try fixture.synthesize(.seed(3, count: 3), into: "single")
        let multi = try fixture.synthesize(.seed(4, count: 5), framesPerFile: 5, into: "multi")
        let files = fixture.paths(single) + fixture.paths(multi)
        #expect(files.count == 4)
        for path in files {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            for value in identifying {
                #expect(bytes.range(of: Data(value.utf8)) == nil, "\(path) contains the training value \(value)")
            }
        }
    }

    @Test("round trip: exported files import as synthetic, training ignores them unless asked, show renders them")
    func roundTrip() throws {
        let fixture = try TrainedModelFixture()
        defer { fixture.folder.remove() }
        let result = try fixture.synthesize(.seed(5, count: 3), register: false, into: "out")
        #expect(result.synthesis == nil)
        let fresh = try Catalog(directory: fixture.folder.url.appendingPathComponent("fresh"), create: true)
        let imported = try Importer(catalog: fresh).run(paths: [result.folder.path])
        #expect(imported.summary.imported == 3 && imported.rejections.isEmpty)
        let instances = try fresh.query(.instances, filter: QueryFilter(synthetic: .yes))
        #expect(instances.rows.count == 3)
        #expect(try fresh.query(.instances, filter: QueryFilter(synthetic: .no)).rows.isEmpty)
        #expect(try fresh.trainingCandidates(modality: "US", filter: QueryFilter(), includeSynthetic: false).isEmpty)
        #expect(try fresh.trainingCandidates(modality: "US", filter: QueryFilter(), includeSynthetic: true).count == 3)
        #expect(throws: TrainingError.self) { try ModelTrainer.create(TrainingRequest(modality: "US"), catalog: fresh) }
        // What `medsynth show` does: find the instance, render its frame for display.
        let record = try #require(try fresh.instance(sopInstanceUID: result.instances[0].sopInstanceUid))
        #expect(record.synthetic)
        let shown = try DicomFile(path: fresh.storage.absolutePath(relative: record.storedPath)).displayFrame(0)
        #expect(shown.width == 64 && shown.height == 64 && shown.channels == 1)
        #expect(shown.pixels == (try decodedFrames(fixture.paths(result)[0]))[0])
        #expect(Set(shown.pixels).count > 8, "the rendered frame is not flat")
    }

    @Test("the same seed gives the same pixels, another seed others; a row of latents.npy given back reproduces its frame")
    func reproducible() throws {
        let fixture = try TrainedModelFixture()
        defer { fixture.folder.remove() }
        let first = try fixture.synthesize(.seed(21, count: 4), register: false, into: "a")
        let again = try fixture.synthesize(.seed(21, count: 4), framesPerFile: 4, register: false, into: "b")
        let other = try fixture.synthesize(.seed(22, count: 4), register: false, into: "c")
        let firstFrames = try fixture.paths(first).flatMap(decodedFrames)
        #expect(firstFrames == (try decodedFrames(fixture.paths(again)[0])))
        #expect(firstFrames != (try fixture.paths(other).flatMap(decodedFrames)))
        // The first rows do not depend on the count.
        let longer = try fixture.synthesize(.seed(21, count: 6), format: .npy, register: false, into: "d")
        let raw = try NumpyFile.read(path: longer.folder.appendingPathComponent(Synthesizer.framesFile).path)
        #expect(raw.shape == [6, 1, 64, 64])
        #expect(Array(raw.values.prefix(4 * 4096)).map(SampleGrid.byte(fromSigned:)) == Array(firstFrames.joined()))

        let latents = try NumpyFile.read(path: first.folder.appendingPathComponent(Synthesizer.latentsFile).path)
        #expect(latents.shape == [4, 128])
        let row = fixture.folder.file("row2.npy")
        try NumpyFile.write(NamedArray(shape: [1, 128], values: Array(latents.values[256..<384])), to: row)
        let reproduced = try fixture.synthesize(.file(path: row, count: nil), register: false, into: "e")
        #expect(try decodedFrames(fixture.paths(reproduced)[0]) == [firstFrames[2]])
        let description = try #require(try DicomFile(path: fixture.paths(reproduced)[0]).string(.derivationDescription))
        #expect(description.contains("latents file sha256:\(try FileDigest.sha256(path: row))"), "\(description)")
    }

    @Test("registered: the catalog keeps model, seed and latent index of every frame, and counts synthetic apart")
    func registered() throws {
        let fixture = try TrainedModelFixture()
        defer { fixture.folder.remove() }
        let result = try fixture.synthesize(.seed(9, count: 5), framesPerFile: 2, into: "out")
        let synthesis = try #require(result.synthesis)
        #expect(synthesis.modelId == fixture.model.record?.id && synthesis.seed == "9" && synthesis.frameCount == 5)
        #expect(synthesis.checkpointDigest == fixture.model.checkpointDigest)
        let table = try fixture.catalog.query(.instances, filter: QueryFilter(synthetic: .yes))
        let column = { (name: String) in table.columns.firstIndex(of: name)! }
        let rows = table.rows
        let latentIndices = rows.compactMap { row -> String? in
            if case .text(let indices) = row[column("latent_indices")] { return indices }
            return nil
        }
        #expect(latentIndices.sorted() == ["0 1", "2 3", "4"])
        #expect(
            rows.count == 3
                && rows.allSatisfy {
                    $0[column("model")] == .text("us-test") && $0[column("seed")] == .text("9")
                        && $0[column("model_id")] == .integer(fixture.model.record!.id!)
                })
        let real = try fixture.catalog.query(.instances, filter: QueryFilter(modality: "US", synthetic: .no))
        #expect(real.rows.count == 3)
        let statistics = try fixture.catalog.statistics()
        #expect(
            statistics.rows.contains { $0[0] == .text("US") && $0[1] == .text("synthetic") && $0[2] == .integer(3) && $0[3] == .integer(5) }
        )
        #expect(statistics.rows.contains { $0[0] == .text("US") && $0[1] == .text("real") && $0[2] == .integer(3) })
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: result.folder.appendingPathComponent(Synthesizer.manifestFile)))
            as? [String: Any]
        #expect(manifest?["catalog_synthesis_id"] as? Int == Int(synthesis.id!))
        #expect(manifest?["seed"] as? String == "9")

        // Stopped after the first batch (Ctrl-C): what was generated is written, registered and described.
        var request = SynthesisRequest(latentSource: .seed(10, count: 10), output: fixture.folder.url.appendingPathComponent("stopped"))
        request.framesPerFile = 3
        request.batchSize = 4
        nonisolated(unsafe) var batches = 0
        let stopped = try Synthesizer.run(
            model: fixture.model, request: request, catalog: fixture.catalog,
            shouldStop: {
                batches += 1
                return batches > 1
            })
        #expect(stopped.stopped && stopped.framesWritten == 4 && stopped.framesRequested == 10)
        #expect(stopped.files == ["synthetic-000000.dcm", "synthetic-000003.dcm"])
        #expect(stopped.instances.map(\.latentIndices) == [[0, 1, 2], [3]])
        #expect(stopped.synthesis?.frameCount == 4)
        let stoppedManifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: stopped.folder.appendingPathComponent(Synthesizer.manifestFile))) as? [String: Any]
        #expect(stoppedManifest?["stopped"] as? Bool == true && stoppedManifest?["frames_written"] as? Int == 4)
    }

    @Test("clear errors: an output folder in use, latents of the wrong shape or not finite, a count that differs from the file")
    func errors() throws {
        let fixture = try TrainedModelFixture()
        defer { fixture.folder.remove() }
        let used = fixture.folder.url.appendingPathComponent("used")
        try FileManager.default.createDirectory(at: used, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: used.appendingPathComponent("notes.txt"))
        #expect { try fixture.synthesize(.seed(1, count: 1), into: "used") } throws: { "\($0)".contains("not empty") }
        #expect(try String(contentsOf: used.appendingPathComponent("notes.txt"), encoding: .utf8) == "keep")
        let wrong = fixture.folder.file("wrong.npy")
        try NumpyFile.write(NamedArray(shape: [2, 64], values: Array(repeating: 0, count: 128)), to: wrong)
        #expect { try fixture.synthesize(.file(path: wrong, count: nil), into: "x") } throws: {
            "\($0)".contains("[N, 128]") && "\($0)".contains(wrong)
        }
        let infinite = fixture.folder.file("infinite.npy")
        try NumpyFile.write(
            NamedArray(shape: [2, 128], values: Array(repeating: 0, count: 200) + Array(repeating: .infinity, count: 56)), to: infinite)
        #expect { try fixture.synthesize(.file(path: infinite, count: nil), into: "y") } throws: { "\($0)".contains("row 1") }
        let good = fixture.folder.file("good.npy")
        try NumpyFile.write(NamedArray(shape: [2, 128], values: Array(repeating: 0.5, count: 256)), to: good)
        #expect { try fixture.synthesize(.file(path: good, count: 3), into: "z") } throws: { "\($0)".contains("--count 3") }
        #expect(!FileManager.default.fileExists(atPath: fixture.folder.file("x")), "nothing is written before the inputs are checked")
        // A file is never replaced: publishing over an existing name fails and leaves it, and no .partial stays behind.
        let existing = used.appendingPathComponent("notes.txt").path
        #expect { try OutputFolder.publish(existing) { try Data("new".utf8).write(to: URL(fileURLWithPath: $0)) } } throws: {
            "\($0)".contains("appeared meanwhile") && "\($0)".contains(existing)
        }
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep")
        #expect(try FileManager.default.contentsOfDirectory(atPath: used.path) == ["notes.txt"])
        // Hostile .npy headers are errors, not crashes: a version-2 header cut short, a shape whose size overflows.
        let short = fixture.folder.file("short.npy")
        try Data([0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0]).write(to: URL(fileURLWithPath: short))
        #expect { try fixture.synthesize(.file(path: short, count: nil), into: "s") } throws: { "\($0)".contains("truncated") }
        let huge = fixture.folder.file("huge.npy")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        try Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)).write(
            to: URL(fileURLWithPath: huge))
        #expect { try fixture.synthesize(.file(path: huge, count: nil), into: "h") } throws: { "\($0)".contains("impossible") }
    }
}

@Suite("Checkpoint folders from other tools")
struct ForeignCheckpointTests {
    init() { EngineThreads.configure(2) }

    @Test("a folder with model.json and generator.safetensors from numpy gives the numpy reference output to 1e-4")
    func numpyReference() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let checkpoint = try ForeignCheckpoint.make(
            at: folder.url.appendingPathComponent("numpy-checkpoint"),
            modelJSON: #"{"preset": "compact", "latent_dim": 128, "resolution": 64, "channels": 1, "framework": "numpy"}"#)
        let reference = try SafeTensors.read(
            path: ForeignCheckpoint.fixtures.appendingPathComponent("compact_generator_io.safetensors").path
        ).tensors
        let latentsPath = folder.file("latents.npy")
        try NumpyFile.write(reference["latents"]!, to: latentsPath)

        let model = try TrainedModel.open(checkpoint.path, catalog: nil)
        #expect(model.record == nil && model.name == "numpy-checkpoint" && model.modality == "OT")
        var request = SynthesisRequest(latentSource: .file(path: latentsPath, count: nil), output: folder.url.appendingPathComponent("out"))
        request.format = .npy
        let result = try Synthesizer.run(model: model, request: request, catalog: nil)
        let output = try NumpyFile.read(path: result.folder.appendingPathComponent(Synthesizer.framesFile).path)
        #expect(output.shape == [2, 1, 64, 64])
        let difference = largestDifference(output.values, reference["inference"]!.values)
        print("foreign checkpoint folder through synthesize: largest absolute difference \(difference)")
        #expect(difference <= 1e-4)
        // The same folder exports DICOM, marked with the folder's name and weights, YES for burned-in text.
        var dicom = SynthesisRequest(latentSource: .file(path: latentsPath, count: nil), output: folder.url.appendingPathComponent("dicom"))
        dicom.register = false
        let exported = try Synthesizer.run(model: model, request: dicom, catalog: nil)
        let file = try DicomFile(path: exported.folder.appendingPathComponent(exported.files[0]).path)
        #expect(file.string(.modality) == "OT" && file.string(.burnedInAnnotation) == "YES")
        #expect(file.string(.derivationDescription)?.contains("GAN numpy-checkpoint,") == true)
        #expect(
            TrainedModel.modalityCode("us") == "US" && TrainedModel.modalityCode("US-2") == "OT"
                && TrainedModel.modalityCode(nil) == "OT" && TrainedModel.modalityCode(String(repeating: "A", count: 17)) == "OT")
    }
}
