import Foundation
import TestSupport
import Testing

@Suite("medsynth evaluate")
struct EvaluateCommandTests {
    @Test("--json has every documented key, --report writes the sheet and page; a folder outside the registry exits 22")
    func jsonAndReport() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        _ = try Medsynth.run(
            ["import", "--catalog", catalog]
                + [
                    "deid-data/GREYSCALE_CINE.dcm", "pydicom-data/US1_UNCR.dcm",
                    "pydicom-data/OBXXXX1A.dcm",
                ].map(Samples.path))
        let trained = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--steps", "1", "--batch", "4", "--name", "m",
            "--threads", "2", "--no-evaluate",
        ])
        #expect(trained.status == 0, "\(trained.standardError)")
        let report = folder.file("report")
        let run = try Medsynth.run([
            "evaluate", "--catalog", catalog, "--model", "m", "--count", "8", "--json", "--report", report,
            "--threads", "2",
        ])
        #expect(run.status == 0, "\(run.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        for key in [
            "c2st_accuracy", "c2st_calibration_accuracy", "data_copying_z", "copies", "copy_rate", "copy_rate_interval",
            "nearest_train_l2_mean",
            "ms_ssim_generated", "ms_ssim_real", "histogram_distance", "spectrum_distance", "against_training",
            "histogram_distance_interval", "spectrum_distance_interval",
            "model", "model_id", "checkpoint_sha256", "generated_frames", "seed", "training_frames", "validation_frames",
            "copy_radius", "held_out_copy_rate_interval", "data_copying_flagged", "evaluation_id",
        ] {
            #expect(object.keys.contains(key), "missing \(key)")
        }
        #expect(object["generated_frames"] as? Int == 8 && object["model"] as? String == "m")
        #expect((object["against_training"] as? [String: Any])?.keys.contains("c2st_accuracy") == true)
        #expect(
            FileManager.default.fileExists(atPath: "\(report)/sheet.png") && FileManager.default.fileExists(atPath: "\(report)/index.html"))
        let page = try String(contentsOfFile: "\(report)/index.html", encoding: .utf8)
        #expect(page.contains("data_copying_z") && page.contains("sheet.png"))

        // bench's synthesize and evaluate scenarios time the same commands and store nothing.
        let synthesized = try Medsynth.run(
            ["bench", "--scenario", "synthesize", "--catalog", catalog, "--model", "m", "--count", "128", "--json"])
        #expect(synthesized.status == 0, "\(synthesized.standardError)")
        let synthesis = try #require(try JSONSerialization.jsonObject(with: Data(synthesized.standardOutput.utf8)) as? [String: Any])
        print("bench synthesize: \(synthesis)")
        #expect(synthesis["scenario"] as? String == "synthesize" && synthesis["frames_requested"] as? Int == 128)
        #expect(synthesis["frames_written"] as? Int == 128 && (synthesis["second_to_first_ratio"] as? Double ?? 0) > 0)
        let benchEvaluation = try Medsynth.run(
            ["bench", "--scenario", "evaluate", "--catalog", catalog, "--model", "m", "--count", "8", "--json"])
        #expect(benchEvaluation.status == 0, "\(benchEvaluation.standardError)")
        let timed = try #require(try JSONSerialization.jsonObject(with: Data(benchEvaluation.standardOutput.utf8)) as? [String: Any])
        let steps = (timed["steps"] as? [[String: Any]] ?? []).compactMap { $0["step"] as? String }
        #expect(steps.first == "loading the model's frames" && steps.contains("copy detection"), "\(steps)")
        let synthetic = try Medsynth.run(["query", "instances", "--catalog", catalog, "--synthetic", "yes", "--format", "csv"])
        #expect(synthetic.standardOutput.split(whereSeparator: \.isNewline).count == 1, "bench registered synthetic instances")
        let noModel = try Medsynth.run(["bench", "--scenario", "evaluate", "--catalog", catalog])
        #expect(noModel.status == 2 && noModel.standardError.contains("--scenario evaluate needs --model MODEL."))

        // A read-only catalog (as on read-only media): every read command works,
        // evaluate prints its figures and says they are not stored.
        try Medsynth.makeReadOnly(catalog)
        let readable = folder.file("readable")
        try FileManager.default.createDirectory(
            atPath: readable, withIntermediateDirectories: false,
            attributes: [.posixPermissions: 0o777])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let listing = try Medsynth.runWithoutWriteAccess(["query", "instances", "--catalog", catalog, "--format", "csv"])
        let uid = try #require(
            listing.standardOutput.split(whereSeparator: \.isNewline).dropFirst().first?
                .split(separator: ",").first.map(String.init), "\(listing.standardError)")
        for command in [
            ["query", "instances"], ["stats"], ["models"], ["show", uid, "--png", "\(readable)/frame.png"],
            ["evaluate", "--model", "m", "--count", "8", "--threads", "2"],
        ] {
            let result = try Medsynth.runWithoutWriteAccess(command + ["--catalog", catalog])
            #expect(result.status == 0, "\(command[0]) on a read-only catalog: \(result.standardError)")
            if command[0] == "evaluate" {
                #expect(result.standardError.contains("the catalog is read-only: these figures are printed, not stored"))
                #expect(result.standardOutput.contains("two-sample test"))
            }
        }
        #expect(FileManager.default.fileExists(atPath: "\(readable)/frame.png"))

        let checkpoint = try ForeignCheckpoint.make(
            at: folder.url.appendingPathComponent("checkpoint"),
            modelJSON: #"{"preset": "compact", "latent_dim": 128, "resolution": 64, "channels": 1}"#)
        let foreign = try Medsynth.run(["evaluate", "--catalog", catalog, "--model", checkpoint.path])
        #expect(foreign.status == 22 && foreign.standardError.contains("registered model"))
        // The utility measure's options: with --utility only, a heatmap peak in 0...1.
        let alone = try Medsynth.run(["evaluate", "--catalog", catalog, "--model", "1", "--label-confidence", "0.3"])
        #expect(alone.status == 2 && alone.standardError.contains("--label-confidence go with --utility"))
        let outOfRange = try Medsynth.run(["evaluate", "--catalog", catalog, "--model", "1", "--utility", "--label-confidence", "2"])
        #expect(outOfRange.status == 2 && outOfRange.standardError.contains("between 0 and 1"))
    }
}
