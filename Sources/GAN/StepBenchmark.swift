import Dispatch
import Engine
import Foundation

/// The `compact` and `paper` scenarios of the architecture page: training
/// steps on a fixed random "real" batch (uniform in [-1, 1]), after two
/// warm-up steps.
public enum StepBenchmark {
    public enum Scenario: String, CaseIterable, Sendable {
        case compact, paper

        public var preset: GeneratorPreset { self == .compact ? .compact : .paper }
        public var batch: Int { self == .compact ? 32 : 8 }
    }

    public struct Result: Codable, Sendable {
        public var scenario: String
        public var batch: Int
        public var steps: Int
        public var stepSeconds: Double
        public var imagesPerSecond: Double
        /// Matrix-product operations per second (2 m n k per GEMM).
        public var gflopsPerSecond: Double
        public var gflopPerStep: Double
        public var threads: Int
        /// `ConvolutionKernels`' name: onednn or im2col.
        public var convolutions: String
        /// OpenBLAS SGEMM on 2048 x 2048 matrices, measured in the same run.
        public var sgemmPeakGflopsPerSecond: Double
        /// Matrix-product rate of the steps over the SGEMM peak.
        public var fractionOfSGEMMPeak: Double
        public var peakRSSBytes: Int
        /// Resident memory after the warm-up steps and after the last step:
        /// equal when the loop allocates nothing.
        public var rssAfterWarmupBytes: Int
        public var rssAtEndBytes: Int
        public var discriminatorLoss: Float
        public var generatorLoss: Float
        /// Seconds per "Layer pass" over the measured steps, with --profile.
        public var profile: [String: Double]?
        /// With --profile: each convolution layer of the generator and the
        /// discriminator, one line each (`ConvolutionPlan.describe`): its
        /// input and output shapes and layouts, and the path it runs on.
        public var convolutionPlans: [String]?

        enum CodingKeys: String, CodingKey {
            case scenario, batch, steps, threads, convolutions, profile
            case convolutionPlans = "convolution_plans"
            case stepSeconds = "step_seconds", imagesPerSecond = "images_per_second"
            case gflopsPerSecond = "gflops_per_second", gflopPerStep = "gflop_per_step"
            case sgemmPeakGflopsPerSecond = "sgemm_peak_gflops_per_second", fractionOfSGEMMPeak = "fraction_of_sgemm_peak"
            case peakRSSBytes = "peak_rss_bytes", rssAfterWarmupBytes = "rss_after_warmup_bytes", rssAtEndBytes = "rss_at_end_bytes"
            case discriminatorLoss = "discriminator_loss", generatorLoss = "generator_loss"
        }
    }

    /// With `backbone`, the discriminator is the transfer one on that backbone,
    /// randomly initialised (the time of a step does not depend on the weights).
    public static func run(
        _ scenario: Scenario, backbone: BackboneKind? = nil, convolutions: ConvolutionKernels = .oneDNN, steps: Int,
        threads: Int, profile: Bool, progress: (Int) -> Void = { _ in }
    ) -> Result {
        EngineThreads.configure(threads)
        let sgemmPeak = Engine.sgemmRate(size: 2048, repetitions: 4)
        let generator = Generator(preset: scenario.preset, seed: 1)
        let resolution = scenario.preset.configuration().resolution
        let discriminator: any DiscriminatorNetwork =
            backbone.map {
                TransferDiscriminator(
                    backbone: $0 == .xception ? Xception(seed: 2) : MobileNetV2(alpha: 1, seed: 2), resolution: resolution, seed: 2)
            } ?? Discriminator(resolution: resolution, seed: 2)
        var stores = [generator.store, discriminator.store]
        if let transfer = discriminator as? TransferDiscriminator { stores.append(transfer.backbone.store) }
        for store in stores { store.convolutionKernels = convolutions }
        let step = TrainingStep(generator: generator, discriminator: discriminator)
        var random = EngineRandom(seed: 3)
        let real = Tensor(
            shape: [scenario.batch, 1, resolution, resolution],
            values: (0..<(scenario.batch * resolution * resolution)).map { _ in random.uniform(-1, 1) })
        let latents = Tensor(shape: [scenario.batch, 128])
        func drawLatents() {
            for i in 0..<latents.count { latents.data[i] = random.normal() }
        }
        for _ in 0..<2 {
            drawLatents()
            step.run(real: real, latents: latents)
        }
        let rssAfterWarmup = ProcessMemory.residentBytes()
        Profiler.reset()
        Profiler.enabled = profile
        var losses = StepResult(discriminatorLoss: 0, generatorLoss: 0, realSign: 0, augmentationProbability: 0)
        let start = DispatchTime.now().uptimeNanoseconds
        for index in 0..<steps {
            drawLatents()
            losses = step.run(real: real, latents: latents)
            progress(index + 1)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        Profiler.enabled = false
        let report = Profiler.report
        let stepSeconds = seconds / Double(steps)
        let gemmRate = report.gemmOperations / seconds / 1e9
        return Result(
            scenario: scenario.rawValue + (backbone.map { "+transfer-\($0.rawValue)" } ?? ""), batch: scenario.batch, steps: steps,
            stepSeconds: stepSeconds,
            imagesPerSecond: Double(scenario.batch) / stepSeconds, gflopsPerSecond: gemmRate,
            gflopPerStep: report.gemmOperations / Double(steps) / 1e9, threads: threads,
            convolutions: convolutions.rawValue,
            sgemmPeakGflopsPerSecond: sgemmPeak, fractionOfSGEMMPeak: gemmRate / sgemmPeak,
            peakRSSBytes: ProcessMemory.peakResidentBytes(), rssAfterWarmupBytes: rssAfterWarmup,
            rssAtEndBytes: ProcessMemory.residentBytes(),
            discriminatorLoss: losses.discriminatorLoss, generatorLoss: losses.generatorLoss, profile: profile ? report.seconds : nil,
            convolutionPlans: profile ? stores.flatMap { $0.convolutionPlans.map(\.plan) } : nil)
    }
}
