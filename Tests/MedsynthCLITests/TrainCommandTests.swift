import Foundation
import TestSupport
import Testing

@Suite("medsynth train and models")
struct TrainCommandTests {
    @Test("US1's cine in JPEG 2000 (lossless and lossy) trains: its frames decode through the bridge's OpenJPEG codec")
    func jpeg2000CineTrains() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        let imported = try Medsynth.run(
            ["import", "--catalog", catalog, "--json"] + ["pydicom-data/US1_J2KR.dcm", "pydicom-data/US1_J2KI.dcm"].map(Samples.path))
        #expect(imported.status == 0, "\(imported.standardError)")
        let trained = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--steps", "2", "--batch", "4", "--name", "j2k",
            "--threads", "2", "--json", "--no-evaluate",
        ])
        #expect(trained.status == 0, "\(trained.standardError)")
        let model = try JSONSerialization.jsonObject(with: Data(trained.standardOutput.utf8)) as? [String: Any]
        #expect(model?["step"] as? Int == 2 && model?["status"] as? String == "finished", "\(trained.standardOutput)")
    }

    @Test(
        "SIGINT saves a checkpoint, exits 3 and says how to resume; --resume continues; models lists it",
        arguments: [1, 2])
    func interruptAndResume(signals: Int) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        #expect(
            try Medsynth.run([
                "import", "--catalog", catalog, Samples.path("deid-data/GREYSCALE_CINE.dcm"),
                Samples.path("pydicom-data/US1_UNCR.dcm"),
            ]).status == 0)

        let process = Process()
        process.executableURL = Medsynth.executable
        process.arguments = ["train", "--catalog", catalog, "--modality", "US", "--steps", "100000", "--batch", "4", "--name", "cine"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // The model folder's first checkpoint (step 0) is written before training starts.
        let modelFile = folder.url.appendingPathComponent("catalog/models/1/model.json").path
        let deadline = Date().addingTimeInterval(300)
        while !FileManager.default.fileExists(atPath: modelFile) && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(FileManager.default.fileExists(atPath: modelFile))
        // Twice at once is one request (as `timeout` delivers it to the process and its group).
        for _ in 0..<signals { process.interrupt() }
        // The step under way finishes first; a process that ignores the signal must not hang the suite.
        let stopDeadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < stopDeadline { Thread.sleep(forTimeInterval: 0.2) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let standardError = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 3, "stderr: \(standardError)")
        #expect(standardError.contains("continue with: medsynth train --catalog '\(catalog)' --resume 'cine'"))

        let listed = try Medsynth.run(["models", "--catalog", catalog, "--json"])
        let models = try #require(try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [[String: Any]])
        #expect(models.count == 1)
        #expect(models.first?["status"] as? String == "stopped")
        let stoppedAt = try #require(models.first?["steps"] as? Int)
        #expect(stoppedAt >= 1)
        #expect(models.first?["instances"] as? Int == 2)

        // A finished run ends with evaluate's figures, stored with the model.
        let resumed = try Medsynth.run(["train", "--catalog", catalog, "--resume", "cine", "--steps", "1", "--evaluate-count", "16"])
        #expect(resumed.status == 0, "stderr: \(resumed.standardError)")
        #expect(resumed.standardOutput.contains("step \(stoppedAt + 1), epoch"))
        #expect(resumed.standardOutput.contains("16 generated frames (seed 1)"), "\(resumed.standardOutput)")
        #expect(resumed.standardOutput.contains("copies of training frames") && resumed.standardOutput.contains("stored as evaluation 1"))
        let again = try Medsynth.run(["models", "--catalog", catalog, "--format", "csv"])
        #expect(again.standardOutput.contains(",finished,\(stoppedAt + 1),"))
    }

    @Test("the limited-data defaults and the copy check are on, and each goes off by its 0 or --no- form")
    func defaultsAndTheirOffForms() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        #expect(try Medsynth.run(["import", "--catalog", catalog, Samples.path("deid-data/GREYSCALE_CINE.dcm")]).status == 0)
        func trainingRecord(_ name: String, _ options: [String]) throws -> (top: [String: Any], hyperparameters: [String: Any]) {
            let run = try Medsynth.run(
                ["train", "--catalog", catalog, "--modality", "US", "--steps", "1", "--batch", "4", "--no-evaluate", "--name", name]
                    + options)
            #expect(run.status == 0, "stderr: \(run.standardError)")
            let json = try Data(contentsOf: folder.url.appendingPathComponent("catalog/models/\(name == "defaults" ? 1 : 2)/model.json"))
            let top = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            return (top, try #require(top["hyperparameters"] as? [String: Any]))
        }
        let defaults = try trainingRecord("defaults", ["--ada-target", "0.3"])
        #expect(defaults.top["upsampling"] as? String == "nearest" && defaults.hyperparameters["augment"] as? String == "ada")
        let ada = defaults.hyperparameters["ada"] as? [String: Any]
        #expect(ada?["target"] as? Double == 0.3 && ada?["ramp_images"] as? Int == 5_000)
        #expect(defaults.hyperparameters["ema_half_life_images"] as? Int == 10_000)
        #expect(defaults.hyperparameters["lecam_weight"] as? Double == 0.01)
        #expect(defaults.hyperparameters["minibatch_std"] as? Bool == true)
        #expect(defaults.hyperparameters["loss"] as? String == "relativistic")
        #expect(defaults.hyperparameters["gradient_penalty"] as? Double == 0.1)
        let copyCheck = defaults.hyperparameters["copy_check"] as? [String: Any]
        #expect(
            copyCheck?["every_steps"] as? Int == 50 && copyCheck?["limit_percent"] as? Double == 1 && copyCheck?["frames"] as? Int == 256)
        let plain = try trainingRecord(
            "plain",
            [
                "--augment", "diffaugment", "--ema-half-life", "0", "--lecam", "0", "--no-minibatch-std", "--upsampling", "transposed",
                "--copy-check-every", "0", "--loss", "non-saturating", "--gradient-penalty", "0",
            ])
        #expect(plain.top["upsampling"] as? String == "transposed" && plain.hyperparameters["augment"] as? String == "diffaugment")
        for key in ["ada", "ema_half_life_images", "lecam_weight", "minibatch_std", "copy_check", "loss", "gradient_penalty"] {
            #expect(plain.hyperparameters[key] == nil, "\(key) is recorded")
        }
        let adaOff = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--augment", "none", "--ada-ramp", "100"])
        #expect(adaOff.status == 2 && adaOff.standardError.contains("--ada-target and --ada-ramp go with --augment ada."))
        let limitOff = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--copy-check-every", "0", "--copy-limit", "2"])
        #expect(limitOff.status == 2 && limitOff.standardError.contains("--copy-limit goes without --copy-check-every 0."))
        let percent = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--copy-limit", "101"])
        #expect(percent.status == 2 && percent.standardError.contains("--copy-limit must be between 0 and 100 (percent)."))
        let refusals: [([String], String)] = [
            (["--heatmap-sigma", "2"], "--label-set and --heatmap-sigma go with --labels."),
            (["--labels", "masks", "--heatmap-sigma", "2"], "--heatmap-sigma goes with --labels keypoints."),
            (["--labels", "keypoints", "--heatmap-sigma", "40"], "--heatmap-sigma must be between 0.5 and 16 pixels."),
            (["--labels", "keypoints", "--discriminator", "projected"], "--labels goes with the dcgan discriminator, not projected."),
        ]
        for (options, message) in refusals {
            let run = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US"] + options)
            #expect(run.status == 2 && run.standardError.contains(message), "\(options): \(run.standardError)")
        }
        // The cine has no labels: train says so, naming where labels come from.
        let unlabelled = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--labels", "keypoints", "--steps", "1"])
        #expect(unlabelled.status != 0 && unlabelled.standardError.contains("none of these frames has keypoint or mask annotations"))
    }

    @Test("train errors: no catalog 20, unknown modality 22, no decodable frames 23, bad options 2")
    func errors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let missing = try Medsynth.run(["train", "--catalog", folder.file("none"), "--modality", "US"])
        #expect(missing.status == 20)
        let catalog = folder.file("catalog")
        #expect(try Medsynth.run(["import", "--catalog", catalog, Samples.path("pydicom-data/gdcm-US-ALOKA-16.dcm")]).status == 0)
        let unknown = try Medsynth.run(["train", "--catalog", catalog, "--modality", "XA"])
        #expect(unknown.status == 22)
        #expect(unknown.standardError == "medsynth: no instances of modality XA in the catalog (it has: US)\n")
        let undecodable = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US"])
        #expect(undecodable.status == 23)
        #expect(undecodable.standardError.contains("none of the 1 US instances has frames DCMTK can decode"))
        #expect(try Medsynth.run(["train", "--catalog", catalog]).status == 2)
        #expect(try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--steps", "5", "--epochs", "5"]).status == 2)
        #expect(try Medsynth.run(["train", "--catalog", catalog, "--resume", "1", "--modality", "US"]).status == 2)
        #expect(try Medsynth.run(["train", "--catalog", catalog, "--resume", "nothing"]).status == 22)
        let noBackbone = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--discriminator", "transfer"])
        #expect(noBackbone.status == 2 && noBackbone.standardError.contains("--backbone-weights"))
        #expect(try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--backbone", "xception"]).status == 2)
        let badWeights = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--discriminator", "transfer",
            "--backbone", "xception", "--backbone-weights", folder.file("none.h5"),
        ])
        #expect(badWeights.status == 61 && badWeights.standardError.contains("none.h5"))
        let transferReconstruction = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--discriminator", "transfer",
            "--backbone", "xception", "--backbone-weights", folder.file("none.h5"), "--reconstruction", "1",
        ])
        #expect(transferReconstruction.status == 2 && transferReconstruction.standardError.contains("--reconstruction goes with"))
        let noTransforms = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", "--augment-transforms", "tint"])
        #expect(noTransforms.status == 2 && noTransforms.standardError.contains("unknown transform 'tint'"))
        let unaugmented = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--augment", "none", "--augment-transforms", "cutout",
        ])
        #expect(unaugmented.status == 2 && unaugmented.standardError.contains("--augment-transforms goes without --augment none"))
        let projectedXception = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--discriminator", "projected", "--backbone", "xception",
        ])
        #expect(projectedXception.status == 2 && projectedXception.standardError.contains("projected takes MobileNetV2"))
        let projectedDeviation = try Medsynth.run([
            "train", "--catalog", catalog, "--modality", "US", "--discriminator", "projected", "--minibatch-std",
        ])
        #expect(projectedDeviation.status == 2 && projectedDeviation.standardError.contains("not projected"))
        for (option, value) in [("--gradient-penalty", "200"), ("--reconstruction", "101")] {
            let outOfRange = try Medsynth.run(["train", "--catalog", catalog, "--modality", "US", option, value])
            #expect(outOfRange.status == 2 && outOfRange.standardError.contains("\(option) must be between 0 (none) and 100"))
        }
        let resumeWithPenalty = try Medsynth.run(["train", "--catalog", catalog, "--resume", "1", "--gradient-penalty", "1"])
        #expect(resumeWithPenalty.status == 2 && resumeWithPenalty.standardError.contains("--gradient-penalty"))
    }
}
