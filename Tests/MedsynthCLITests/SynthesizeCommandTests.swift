import Foundation
import TestSupport
import Testing

@Suite("medsynth synthesize")
struct SynthesizeCommandTests {
    static func foreignCheckpoint(in folder: TemporaryFolder) throws -> String {
        try ForeignCheckpoint.make(
            at: folder.url.appendingPathComponent("checkpoint"),
            modelJSON: #"{"preset": "compact", "latent_dim": 128, "resolution": 64, "channels": 1, "modality": "US"}"#
        ).path
    }

    @Test("a checkpoint folder with --no-catalog writes files only; the run is reported and repeatable")
    func filesOnly() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let checkpoint = try Self.foreignCheckpoint(in: folder)
        let out = folder.file("out")
        let run = try Medsynth.run([
            "synthesize", "--catalog", folder.file("no-catalog-here"), "--model", checkpoint, "--count", "3",
            "--seed", "4", "--out", out, "--no-catalog", "--format", "png",
        ])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("wrote 3 synthetic US frames in 3 png files from model \"checkpoint\" (seed 4) to \(out)"))
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["latents.npy", "synthesis.json", "synthetic-000000.png", "synthetic-000001.png", "synthetic-000002.png"])
        #expect(!FileManager.default.fileExists(atPath: folder.file("no-catalog-here")))
        let again = try Medsynth.run([
            "synthesize", "--model", checkpoint, "--latents", "\(out)/latents.npy", "--out", folder.file("again"),
            "--no-catalog", "--format", "png",
        ])
        #expect(again.status == 0, "\(again.standardError)")
        for name in files where name.hasSuffix(".png") {
            #expect(
                FileManager.default.contents(atPath: "\(out)/\(name)") == FileManager.default.contents(atPath: folder.file("again/\(name)"))
            )
        }
    }

    @Test("a synthesize killed midway leaves a folder that says so and nothing registered; a rerun into it completes")
    func killedThenRerun() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        _ = try Medsynth.run(["import", "--catalog", catalog, Samples.path("deid-data/GREYSCALE_CINE.dcm")])
        let trained = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--steps", "1", "--batch", "4",
            "--name", "m", "--threads", "2", "--no-evaluate",
        ])
        #expect(trained.status == 0, "\(trained.standardError)")
        let out = folder.file("out")
        let process = Process()
        process.executableURL = Medsynth.executable
        process.arguments = [
            "synthesize", "--catalog", catalog, "--model", "m", "--count", "20000", "--frames-per-file", "1",
            "--out", out, "--no-privacy-filter",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        func written() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".dcm") }.count
        }
        while written() < 5 && Date() < deadline && process.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let left = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(left.contains("synthesis.incomplete") && !left.contains("synthesis.json"), "\(left)")
        #expect(written() >= 5)
        let listed = try Medsynth.run(["query", "instances", "--catalog", catalog, "--synthetic", "yes", "--format", "csv"])
        #expect(listed.standardOutput.split(whereSeparator: \.isNewline).count == 1, "nothing registered: \(listed.standardOutput)")

        let rerun = try Medsynth.run([
            "synthesize", "--catalog", catalog, "--model", "m", "--count", "3", "--out", out,
            "--no-privacy-filter",
        ])
        #expect(rerun.status == 0, "\(rerun.standardError)")
        #expect(rerun.standardError.contains("files an interrupted run had left in the output folder"))
        let after = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(after.contains("synthesis.json") && !after.contains("synthesis.incomplete"))
        #expect(after.filter { $0.hasSuffix(".dcm") }.count == 3)
        let registered = try Medsynth.run(["query", "instances", "--catalog", catalog, "--synthetic", "yes", "--format", "csv"])
        #expect(registered.standardOutput.split(whereSeparator: \.isNewline).count == 1 + 3)
        // --model chooses one model's synthetic instances (query and send share the filter).
        for (model, rows) in [("m", 3), ("another", 0)] {
            let byModel = try Medsynth.run(["query", "instances", "--catalog", catalog, "--model", model, "--format", "csv"])
            #expect(byModel.standardOutput.split(whereSeparator: \.isNewline).count == 1 + rows, "\(model)")
        }
        // Model folders, the frame cache and synthetic output are owner-only too.
        func mode(_ path: String) -> Int? {
            (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        }
        #expect(mode(out) == 0o700 && mode("\(out)/synthesis.json") == 0o600)
        #expect(after.allSatisfy { mode("\(out)/\($0)") == 0o600 })
        #expect(mode("\(catalog)/models/1") == 0o700 && mode("\(catalog)/models/1/model.json") == 0o600)
        #expect(mode("\(catalog)/models/1/generator.safetensors") == 0o600)
    }

    @Test("errors exit with the documented status and name the cause")
    func errors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let checkpoint = try Self.foreignCheckpoint(in: folder)
        let catalog = folder.file("catalog")
        _ = try Medsynth.run(["import", "--catalog", catalog, Samples.path("pydicom-data/US1_UNCR.dcm")])
        let both = try Medsynth.run(["synthesize", "--model", checkpoint, "--seed", "1", "--latents", "z.npy"])
        #expect(both.status == 2 && both.standardError.contains("--seed or --latents"))
        let perFile = try Medsynth.run(["synthesize", "--model", checkpoint, "--format", "npy", "--frames-per-file", "4"])
        #expect(perFile.status == 2)
        // Fewer draws than the default 16 frames cannot write them.
        let fewDraws = try Medsynth.run(["synthesize", "--model", checkpoint, "--max-draws", "5"])
        #expect(fewDraws.status == 2 && fewDraws.standardError.contains("--max-draws must be at least --count"))
        let unknown = try Medsynth.run(["synthesize", "--catalog", catalog, "--model", "no-such-model"])
        #expect(unknown.status == 22 && unknown.standardError.contains("no-such-model"))
        let noCatalog = try Medsynth.run(["synthesize", "--catalog", folder.file("missing"), "--model", "us-1"])
        #expect(noCatalog.status == 20)
        let used = folder.file("used")
        try FileManager.default.createDirectory(atPath: used, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(used)/keep.txt", contents: Data("x".utf8))
        let occupied = try Medsynth.run(["synthesize", "--model", checkpoint, "--no-catalog", "--out", used])
        #expect(occupied.status == 40 && occupied.standardError.contains("not empty") && occupied.standardError.contains(used))
        let badLatents = try Medsynth.run([
            "synthesize", "--model", checkpoint, "--no-catalog", "--latents", "\(used)/keep.txt",
            "--out", folder.file("x"),
        ])
        #expect(badLatents.status == 21 && badLatents.standardError.contains("keep.txt"))
        let outOfRange = try Medsynth.run(["synthesize", "--model", checkpoint, "--label-confidence", "1.5"])
        #expect(outOfRange.status == 2 && outOfRange.standardError.contains("--label-confidence"))
        let noKeypoints = try Medsynth.run([
            "synthesize", "--model", checkpoint, "--no-catalog", "--label-confidence", "0.3", "--out", folder.file("y"),
        ])
        #expect(noKeypoints.status == 2 && noKeypoints.standardError.contains("draws no keypoints"))
    }
}
