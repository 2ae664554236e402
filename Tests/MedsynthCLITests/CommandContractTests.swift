import Foundation
import TestSupport
import Testing

/// One catalog with a trained two-step model, made once for the contract tests.
struct ContractFixture: Sendable {
    let folder: TemporaryFolder
    let catalog: String
    /// What `train --json` printed.
    let train: ProcessOutput
    let cineUID: String

    static let shared: Result<ContractFixture, any Error> = Result { try ContractFixture() }

    private init() throws {
        folder = try TemporaryFolder()
        catalog = folder.file("catalog")
        let imported = try Medsynth.run(
            ["import", "--catalog", catalog]
                + [
                    "deid-data/GREYSCALE_CINE.dcm", "pydicom-data/US1_UNCR.dcm",
                    "pydicom-data/OBXXXX1A.dcm",
                ].map(Samples.path))
        guard imported.status == 0 else { throw ExternalProcess.Failed(command: ["import"], output: imported) }
        train = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--steps", "2", "--batch", "4", "--name", "m",
            "--threads", "2", "--json", "--no-evaluate",
        ])
        let instances = try Medsynth.run(["query", "instances", "--catalog", catalog, "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(instances.standardOutput.utf8)) as? [[String: Any]] ?? []
        cineUID = rows.first { $0["frames"] as? Int == 27 }?["sop_instance_uid"] as? String ?? ""
    }
}

/// The command-line contract of docs/cli.md: `--json` on every command
/// prints one JSON document on stdout with ids and absolute paths; every
/// error is one `medsynth: <what failed>: <what>` line with its status.
@Suite("The command-line contract", .serialized)
struct CommandContractTests {
    /// stdout parsed as one JSON object, or nil when it is not exactly that.
    static func object(_ run: ProcessOutput) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any]
    }

    static func expectKeys(_ object: [String: Any]?, _ keys: [String], _ command: String) {
        for key in keys { #expect(object?.keys.contains(key) == true, "\(command) --json lacks \(key)") }
    }

    static func expectAbsoluteFile(_ value: Any?, _ what: String) {
        let path = value as? String ?? ""
        #expect(path.hasPrefix("/") && FileManager.default.fileExists(atPath: path), "\(what): \(path)")
    }

    @Test("import --json: the counts, the catalog's absolute path and the run's id")
    func importJSON() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let run = try Medsynth.run(
            ["import", "--catalog", "catalog", "--json", Samples.path("pydicom-data/US1_UNCR.dcm")],
            currentDirectory: folder.url)
        #expect(run.status == 0, "\(run.standardError)")
        let object = Self.object(run)
        Self.expectKeys(
            object,
            [
                "files_seen", "imported", "duplicates", "skipped", "rejected", "frames", "by_modality", "catalog",
                "import_run_id",
            ], "import")
        #expect(object?["catalog"] as? String == folder.url.appendingPathComponent("catalog").standardizedFileURL.path)
        #expect((object?["by_modality"] as? [String: Int])?["US"] == 1)
    }

    @Test("query, stats and models --json: arrays of objects; --json with --format csv is a usage error")
    func listingJSON() throws {
        let fixture = try ContractFixture.shared.get()
        for (command, key) in [(["query", "series"], "series_instance_uid"), (["stats"], "modality"), (["models"], "checkpoint_digest")] {
            let run = try Medsynth.run(command + ["--catalog", fixture.catalog, "--json"])
            #expect(run.status == 0)
            let rows = try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [[String: Any]]
            #expect(rows?.isEmpty == false && rows?.allSatisfy { $0.keys.contains(key) } == true, "\(command)")
        }
        let models = try Medsynth.run(["models", "--catalog", fixture.catalog, "--json"])
        let model = (try JSONSerialization.jsonObject(with: Data(models.standardOutput.utf8)) as? [[String: Any]])?.first
        #expect(model?["discriminator"] as? String == "dcgan" && model?["backbone"] is NSNull && model?["status"] as? String == "finished")
        let both = try Medsynth.run(["stats", "--catalog", fixture.catalog, "--json", "--format", "csv"])
        #expect(both.status == 2 && both.standardError.contains("Give --json or --format csv, not both."))
    }

    @Test("train --json: the model's id, status, step and the absolute paths of its files; the description goes to stderr")
    func trainJSON() throws {
        let fixture = try ContractFixture.shared.get()
        #expect(fixture.train.status == 0, "\(fixture.train.standardError)")
        let object = Self.object(fixture.train)
        Self.expectKeys(
            object,
            [
                "model_id", "name", "status", "outcome", "step", "epoch", "planned_step", "checkpoint_sha256", "folder",
                "model_json", "generator", "losses", "loss_plot", "samples",
            ], "train")
        #expect(object?["status"] as? String == "finished" && object?["outcome"] as? String == "finished")
        #expect(object?["step"] as? Int == 2 && object?["planned_step"] as? Int == 2 && object?["name"] as? String == "m")
        for key in ["folder", "model_json", "generator", "losses", "samples"] { Self.expectAbsoluteFile(object?[key], key) }
        #expect(fixture.train.standardError.contains("model 1 \"m\": US, compact 64x64"))
    }

    @Test("synthesize --json: the files written, absolute, with the run's ids")
    func synthesizeJSON() throws {
        let fixture = try ContractFixture.shared.get()
        let work = try TemporaryFolder()
        defer { work.remove() }
        let run = try Medsynth.run(
            [
                "synthesize", "--catalog", fixture.catalog, "--model", "m", "--count", "2", "--seed", "3",
                "--out", "out", "--json", "--threads", "2", "--no-privacy-filter",
            ], currentDirectory: work.url)
        #expect(run.status == 0, "\(run.standardError)")
        let object = Self.object(run)
        Self.expectKeys(
            object,
            [
                "model", "model_id", "checkpoint_sha256", "seed", "folder", "files", "manifest", "latents", "frames_requested",
                "frames_written", "frames_generated", "withheld_latent_indices", "stopped", "synthesis_id",
                "study_instance_uid", "series_instance_uid", "sop_instance_uids",
            ], "synthesize")
        #expect(object?["folder"] as? String == work.url.appendingPathComponent("out").standardizedFileURL.path)
        #expect(object?["seed"] as? String == "3" && object?["frames_written"] as? Int == 2)
        let files = object?["files"] as? [String] ?? []
        #expect(files.count == 2)
        for file in files + [object?["manifest"] as? String ?? "", object?["latents"] as? String ?? ""] {
            Self.expectAbsoluteFile(file, "synthesize file")
        }
        #expect((object?["sop_instance_uids"] as? [String])?.count == 2)
        #expect(run.standardError.contains("wrote 2 synthetic US frames"))
    }

    @Test("show --json: the frame written and its absolute path")
    func showJSON() throws {
        let fixture = try ContractFixture.shared.get()
        let work = try TemporaryFolder()
        defer { work.remove() }
        let run = try Medsynth.run(
            ["show", "--catalog", fixture.catalog, fixture.cineUID, "--frame", "27", "--png", "f.png", "--json"],
            currentDirectory: work.url)
        #expect(run.status == 0, "\(run.standardError)")
        let object = Self.object(run)
        Self.expectKeys(object, ["sop_instance_uid", "frame", "width", "height", "channels", "png"], "show")
        #expect(object?["png"] as? String == work.url.appendingPathComponent("f.png").standardizedFileURL.path)
        Self.expectAbsoluteFile(object?["png"], "png")
    }

    @Test("show --prepared --json: the picture beside the training image, and what the preparation did")
    func showPreparedJSON() throws {
        let fixture = try ContractFixture.shared.get()
        let work = try TemporaryFolder()
        defer { work.remove() }
        let run = try Medsynth.run(
            ["show", "--catalog", fixture.catalog, fixture.cineUID, "--prepared", "--png", "p.png", "--json"], currentDirectory: work.url)
        #expect(run.status == 0, "\(run.standardError)")
        let object = Self.object(run)
        let preparation = object?["preparation"] as? [String: Any]
        // GREYSCALE_CINE: 800 x 600, its tissue region 10,31,788,592; the picture is the frame, 8 pixels, and a 600-pixel square.
        #expect(preparation?["source"] as? String == "ultrasound_region" && preparation?["rectangle"] as? String == "10,31,788,592")
        #expect((preparation?["annotation_pixels"] as? Int ?? 0) > 0)
        #expect(object?["width"] as? Int == 800 + 8 + 600 && object?["height"] as? Int == 600 && object?["channels"] as? Int == 3)
        // The PNG's IHDR: width and height, big-endian, at bytes 16 and 20.
        let png = try [UInt8](Data(contentsOf: work.url.appendingPathComponent("p.png")))
        let size = [16, 20].map { offset in png[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) } }
        #expect(size == [1408, 600])
        // A single frame: the annotations on its image stay, and show says so as train does.
        let instances = try Medsynth.run(["query", "instances", "--catalog", fixture.catalog, "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(instances.standardOutput.utf8)) as? [[String: Any]] ?? []
        let single = try #require(rows.first { $0["frames"] as? Int == 1 }?["sop_instance_uid"] as? String)
        let singleRun = try Medsynth.run(
            ["show", "--catalog", fixture.catalog, single, "--prepared", "--png", "s.png"], currentDirectory: work.url)
        #expect(
            singleRun.status == 0
                && singleRun.standardError.contains("burned-in annotations on the image are left as they are in a single-frame instance"))
    }

    @Test("bench --json from outside the repository: the sample is found from the executable")
    func benchJSON() throws {
        let work = try TemporaryFolder()
        defer { work.remove() }
        let run = try Medsynth.run(["bench", "--scenario", "import", "--instances", "3", "--json"], currentDirectory: work.url)
        #expect(run.status == 0, "\(run.standardError)")
        Self.expectKeys(Self.object(run), ["scenario", "sample", "instances", "jobs", "seconds", "instances_per_second"], "bench")
        Self.expectAbsoluteFile(Self.object(run)?["sample"], "sample")
    }

    @Test("errors: one medsynth line each, with its status, before any work")
    func errors() throws {
        let fixture = try ContractFixture.shared.get()
        let work = try TemporaryFolder()
        defer { work.remove() }
        func expectFailure(_ arguments: [String], status: Int32, message: String) throws {
            let run = try Medsynth.run(arguments, currentDirectory: work.url)
            #expect(run.status == status, "\(arguments): \(run.standardError)")
            #expect(run.standardError.contains(message), "\(arguments): \(run.standardError)")
            #expect(run.standardOutput.isEmpty, "\(arguments)")
        }
        // A negative count is a value, not an option.
        try expectFailure(
            ["synthesize", "--catalog", fixture.catalog, "--model", "m", "--count", "-1"], status: 2,
            message: "--count must be between 1 and 100000.")
        try expectFailure(
            ["evaluate", "--catalog", fixture.catalog, "--model", "m", "--count", "-5"], status: 2,
            message: "--count must be between 8 and 20000.")
        // A catalog path that is a file, for a reader and a writer.
        let file = work.file("not-a-catalog")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        for command in [["query", "series"], ["import", Samples.path("pydicom-data/US1_UNCR.dcm")]] {
            let run = try Medsynth.run(command + ["--catalog", file])
            #expect(run.status == 20)
            #expect(run.standardError == "medsynth: the catalog path is not a folder (--catalog names the catalog's folder): \(file)\n")
        }
        // A frame the instance does not have names the instance, not a storage path.
        try expectFailure(
            ["show", "--catalog", fixture.catalog, fixture.cineUID, "--frame", "28", "--png", "x.png"], status: 22,
            message: "medsynth: --frame 28 is out of range: the instance has 27 frames, numbered from 1: \(fixture.cineUID)\n")
        // --report that cannot be a folder fails before the evaluation starts.
        let evaluate = try Medsynth.run(["evaluate", "--catalog", fixture.catalog, "--model", "m", "--count", "8", "--report", file])
        #expect(evaluate.status == 40 && evaluate.standardError.hasSuffix("medsynth: the report folder is a file: \(file)\n"))
        #expect(!evaluate.standardError.contains("generating"), "\(evaluate.standardError)")
        // An --out that holds other files fails before the training frames load.
        let occupied = work.url.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: occupied, withIntermediateDirectories: false)
        try Data("x".utf8).write(to: occupied.appendingPathComponent("notes.txt"))
        try expectFailure(
            ["synthesize", "--catalog", fixture.catalog, "--model", "m", "--count", "2", "--out", "occupied"], status: 40,
            message: "medsynth: the output folder is not empty (choose another --out): \(occupied.path)\n")
        // --resume refuses what defines the model, and remembers the plan.
        try expectFailure(
            ["train", "--catalog", fixture.catalog, "--resume", "m", "--lr", "0.1", "--batch", "8", "--noise-inputs"], status: 2,
            message: "--resume continues a model as it was created; drop --noise-inputs, --batch, --lr (train a new model to change them).")
        try expectFailure(
            ["train", "--catalog", fixture.catalog, "--resume", "m"], status: 2,
            message: "medsynth: the model's last run reached its planned step (2); give --steps or --epochs to train further: m\n")
        try expectFailure(
            ["train", "--catalog", fixture.catalog, "--resume", "m", "--backbone-weights", file], status: 2,
            message: "medsynth: --backbone-weights goes with a transfer or projected discriminator; this model's is dcgan: m\n")
        try expectFailure(
            ["train", "--catalog", fixture.catalog, "--resume", "m", "--steps", "-3"], status: 2,
            message: "--steps must be at least 1.")
        // The preparation defines the model too; its options go with --prepared on show.
        try expectFailure(
            ["train", "--catalog", fixture.catalog, "--resume", "m", "--region", "none"], status: 2,
            message: "--resume continues a model as it was created; drop --region (train a new model to change them).")
        try expectFailure(
            ["train", "--catalog", fixture.catalog, "--modality", "US", "--region", "10,10,5,5"], status: 2,
            message: "--region")
        try expectFailure(
            ["show", "--catalog", fixture.catalog, fixture.cineUID, "--region", "none", "--png", "x.png"], status: 2,
            message: "--region go with --prepared.")
    }

    @Test("--help of every command: examples fit 80 columns, a long one continued with a backslash, never wrapped")
    func helpExamples() throws {
        for command in ["import", "query", "show", "stats", "train", "models", "synthesize", "evaluate", "bench"] {
            let help = try Medsynth.run([command, "--help"], environment: ["COLUMNS": "80"]).standardOutput
            let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("Examples:") || $0.hasPrefix("Example:") }) else { continue }
            var index = start + 1
            while index < lines.count, !lines[index].isEmpty {
                let line = lines[index]
                #expect(line.count <= 80, "\(command): \(line)")
                let continued = index > start + 1 && lines[index - 1].hasSuffix("\\")
                #expect(
                    line.hasPrefix("  medsynth \(command)") || (continued && line.hasPrefix("      --")),
                    "\(command) --help wraps an example: \(line)")
                index += 1
            }
        }
    }
}
