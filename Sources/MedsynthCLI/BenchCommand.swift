import ArgumentParser
import Catalog
import DICOM
import Engine
import Evaluation
import Foundation
import GAN
import Ingest
import ModelStore
import Synthesis

/// The benchmark scenarios (docs/performance.md).
extension ConvolutionKernels: ExpressibleByArgument {}

enum BenchScenario: String, CaseIterable, ExpressibleByArgument {
    /// A training step of the compact generator and the dcgan discriminator, batch 32 at 64 x 64.
    case compact
    /// A training step of the paper generator and the dcgan discriminator, batch 8 at 256 x 256.
    case paper
    /// Import of many small generated instances into a fresh catalog.
    case `import`
    /// `synthesize` of a registered model: DICOM, privacy gate, no registration.
    case synthesize
    /// `evaluate` of a registered model, timed step by step, nothing stored.
    case evaluate
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark scenario and report its figures.",
        discussion: """
            compact, paper: one step is a discriminator step (real and generated batch) and a \
            generator step, with Adam, as docs/engine.md defines them, on a fixed random batch, \
            after two warm-up steps. Reports seconds per step, images per second, the GFLOP/s of \
            the matrix products, threads and peak memory; --profile adds time per layer type and \
            each convolution layer's input, output and the path it runs on (oneDNN, its corner \
            spread, im2col + GEMM, a pointwise GEMM, the direct loop).

            import: writes --instances copies of a real sample under new UIDs into a temporary \
            folder, imports them into a fresh catalog there, and reports instances per second over \
            the whole run and over its first and last thousand files. The folder is removed afterwards.

            synthesize: 'synthesize --count N --seed 2' of --model as DICOM (one frame per file, privacy \
            gate on) into a temporary folder, not registered; reports frames per second over the run, \
            the set-up (training frames, copy detector), and the rate over the first and the second half \
            of the frames. evaluate: 'evaluate --count N --seed 1' of --model with the seconds of each \
            step; the catalog is opened read-only, so nothing is stored.

            Compare figures measured in one run: the machine is shared and noisy.
            """
    )

    @Option(help: "The scenario to run: \(BenchScenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scenario: BenchScenario = .compact

    @Option(parsing: .unconditional, help: "compact, paper: measured steps after the two warm-up steps.")
    var steps = 10

    @Option(parsing: .unconditional, help: "compact, paper: threads for OpenBLAS and the engine (default: one per core).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "compact, paper: also print the time per layer type, forward and backward, and the path of each convolution layer.")
    var profile = false

    @Option(
        help: "compact, paper: time the transfer discriminator on this backbone (xception, mobilenetv2; random weights) instead of dcgan.")
    var backbone: BackboneKind?

    @Option(
        help: """
            compact, paper: the convolution kernels: onednn (oneDNN's direct kernels, the default) or im2col (the \
            engine's own, im2col and OpenBLAS), to compare the two in one run.
            """)
    var convolutions: ConvolutionKernels = .oneDNN

    @Option(parsing: .unconditional, help: "import: how many instances to generate and import.")
    var instances = 10_000

    @Option(
        help: ArgumentHelp(
            """
            import: the real DICOM file to copy under new UIDs (default: \(Self.defaultSample) of the repository, \
            looked up from the current folder, then from the executable's).
            """, valueName: "file"))
    var sample: String?

    @Option(parsing: .unconditional, help: "import: files parsed in parallel (default: one per core).")
    var jobs: Int?

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "synthesize, evaluate: the model (id or name from 'medsynth models').")
    var model: String?

    @Option(parsing: .unconditional, help: "synthesize, evaluate: frames to generate (default 2000 for synthesize, 256 for evaluate).")
    var count: Int?

    @OptionGroup var output: JSONOption

    /// The import scenario's sample, as samples/fetch.sh unpacks it.
    static let defaultSample = "samples/data/pydicom-data/SC_rgb.dcm"

    func validate() throws {
        if instances < 1 { throw ValidationError("--instances must be at least 1.") }
        if steps < 1 { throw ValidationError("--steps must be at least 1.") }
        if threads < 1 { throw ValidationError("--threads must be at least 1.") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
        let modelScenario = scenario == .synthesize || scenario == .evaluate
        if modelScenario, model == nil { throw ValidationError("--scenario \(scenario.rawValue) needs --model MODEL.") }
        if !modelScenario, model != nil || count != nil { throw ValidationError("--model and --count go with synthesize and evaluate.") }
        if let count, !(8...Synthesizer.maximumFrames).contains(count) {
            throw ValidationError("--count must be between 8 and \(Synthesizer.maximumFrames).")
        }
        if scenario == .synthesize, let count, count < 128 {
            throw ValidationError("--scenario synthesize needs --count 128 or more: the rates of its halves need four batches.")
        }
    }

    func run() throws {
        switch scenario {
        case .compact: try runSteps(.compact)
        case .paper: try runSteps(.paper)
        case .import: try runImport()
        case .synthesize, .evaluate: try runModel()
        }
    }

    /// synthesize and evaluate, on a model of the catalog opened read-only.
    private func runModel() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        let trained = try failingWithStatus { try TrainedModel.open(model!, catalog: catalog) }
        if scenario == .evaluate {
            let result = try failingWithStatus { try EvaluationBenchmark.run(model: trained, catalog: catalog, count: count ?? 256) }
            if output.json { return try printJSON(result) }
            print(
                String(
                    format: "evaluate of %@: %d generated frames against %d training and %d validation frames\n"
                        + "  total           %.2f s\n  peak memory     %.0f MiB", result.model, result.generatedFrames,
                    result.trainingFrames, result.validationFrames, result.seconds, Double(result.peakRSSBytes) / 1_048_576))
            for step in result.steps {
                print("  " + step.step.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%7.2f s", step.seconds))
            }
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medsynth-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try failingWithStatus {
            try SynthesisBenchmark.run(model: trained, catalog: catalog, count: count ?? 2000, folder: folder)
        }
        if output.json { return try printJSON(result) }
        print(
            String(
                format: """
                    synthesize of %@: %d frames written (DICOM, one per file), %d withheld as copies
                      total           %.2f s, %.1f frames/s
                      set-up          %.2f s (training frames, copy detector)
                      first half      %.1f frames/s
                      second half     %.1f frames/s (%.2f of the first)
                      peak memory     %.0f MiB
                    """, result.model, result.framesWritten, result.framesWithheld, result.seconds, result.framesPerSecond,
                result.setupSeconds, result.firstHalfPerSecond, result.secondHalfPerSecond, result.secondToFirstRatio,
                Double(result.peakRSSBytes) / 1_048_576))
    }

    private func runSteps(_ scenario: StepBenchmark.Scenario) throws {
        ConsoleLogHandler.bootstrap(verbose: false)
        let progress = ProgressLine(label: "bench \(scenario.rawValue)", unit: "steps")
        let started = Date()
        let result = StepBenchmark.run(
            scenario, backbone: backbone, convolutions: convolutions, steps: steps, threads: threads, profile: profile
        ) { done in
            progress.update(done: done, total: steps, elapsed: Date().timeIntervalSince(started))
        }
        progress.finish()
        if output.json {
            try printJSON(result)
            return
        }
        print(
            String(
                format: """
                    %@: batch %d, %d threads, %@ convolutions, %d steps after 2 warm-up steps
                      step            %.3f s
                      images/s        %.2f
                      GEMM GFLOP/s    %.1f (%.1f GFLOP per step), %.0f %% of the SGEMM peak measured now (%.1f GFLOP/s)
                      peak memory     %.0f MiB (resident after warm-up %.0f MiB, at the end %.0f MiB)
                      last losses     D %.4f, G %.4f
                    """, result.scenario, result.batch, result.threads, result.convolutions, result.steps, result.stepSeconds,
                result.imagesPerSecond,
                result.gflopsPerSecond, result.gflopPerStep, 100 * result.fractionOfSGEMMPeak, result.sgemmPeakGflopsPerSecond,
                Double(result.peakRSSBytes) / 1_048_576,
                Double(result.rssAfterWarmupBytes) / 1_048_576, Double(result.rssAtEndBytes) / 1_048_576,
                result.discriminatorLoss, result.generatorLoss))
        if let profile = result.profile {
            let total = profile.values.reduce(0, +)
            print("  time per layer type over \(result.steps) steps:")
            for (name, seconds) in profile.sorted(by: { $0.value > $1.value }) {
                let label = name.padding(toLength: max(30, name.count), withPad: " ", startingAt: 0)
                print(String(format: "    %@ %8.3f s  %5.1f %%", label, seconds, 100 * seconds / total))
            }
        }
        if let plans = result.convolutionPlans {
            print("  convolution layers (input -> output, the path each runs on):")
            for plan in plans { print("    " + plan) }
        }
    }

    /// --sample, else the repository's sample below the current folder or
    /// the executable's (`.build/<configuration>/medsynth`), absolute.
    private func samplePath() throws -> String {
        if let sample { return absolutePath(sample).path }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [
            absolutePath(Self.defaultSample),
            executable.deletingLastPathComponent().appendingPathComponent("../../../\(Self.defaultSample)").standardizedFileURL,
        ]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw CommandFailure(
                .inputUnreadable,
                "no sample for the import scenario (give --sample FILE; samples/fetch.sh in the "
                    + "repository fetches the default): \(candidates[0].path)")
        }
        return found.path
    }

    private func runImport() throws {
        ConsoleLogHandler.bootstrap(verbose: false)
        let sample = try samplePath()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medsynth-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let inputs = work.appendingPathComponent("inputs")
        FileHandle.standardError.write(Data("bench: writing \(instances) instances from \(sample)\n".utf8))
        let result = try failingWithStatus {
            try ImportBenchmark.generate(sample: sample, count: instances, into: inputs)
            return try ImportBenchmark.run(
                sample: sample, inputs: inputs, count: instances,
                catalogFolder: work.appendingPathComponent("catalog"), jobs: jobs)
        }
        if output.json {
            try printJSON(result)
        } else {
            print(
                String(
                    format: """
                        import of %d instances (%@), %d jobs:
                          total           %.2f s, %.0f instances/s
                          first thousand  %.0f instances/s
                          last thousand   %.0f instances/s (%.2f of the first)
                        """, result.instances, result.sample, result.jobs, result.seconds, result.instancesPerSecond,
                    result.firstThousandPerSecond, result.lastThousandPerSecond, result.lastToFirstRatio))
        }
    }
}
