import Catalog
import Engine
import Foundation
import GAN
import Imaging
import Synthesis
import Training

/// The figures of one evaluation (docs/evaluation.md); JSON keys are the
/// snake_case names and stay stable. Distances are RMS differences of 0-to-1
/// intensities; figures that need more frames than there are are null.
public struct EvaluationFigures: Codable, Sendable, Equatable {
    /// Compared with the held-out validation frames (unless named otherwise).
    /// The two-sample test: accuracy, its 95 % interval (bootstrap over the
    /// test series), the test's size, the real-vs-real calibration and the
    /// verdict the intervals allow.
    public var c2stAccuracy: Float?
    public var c2stAccuracyInterval: [Float]?
    public var c2stCalibrationAccuracy: Float?
    public var c2stCalibrationInterval: [Float]?
    public var c2stTestFrames: Int?
    public var c2stTestSeries: Int?
    public var c2stVerdict: ClassifierTwoSampleTest.Verdict?
    public var dataCopyingZ: Float?
    public var dataCopyingCells: Int?
    public var dataCopyingFlagged: Bool?
    /// Generated frames that copy a training frame (`CopyDetector`), their
    /// share with its 95 % Wilson interval, and the detector's radius.
    public var copies: Int
    public var copyRate: Float
    public var copyRateInterval: [Float]
    /// The same for the held-out real frames: how often the detector flags
    /// frames that are certainly not copies (its false-positive rate here).
    public var heldOutCopies: Int?
    public var heldOutCopyRate: Float?
    public var heldOutCopyRateInterval: [Float]?
    public var copyRadius: Float
    /// Copy distance of each generated frame to its nearest training frame: mean and minimum.
    public var copyDistanceMean: Float
    public var copyDistanceMin: Float
    public var nearestTrainL2Mean: Float
    public var nearestTrainL2Min: Float
    public var nearestTrainSsimMean: Float
    /// Density and coverage (Naeem et al.) in the random embedding, with 95 % intervals.
    public var density: Float?
    public var densityInterval: [Float]?
    public var coverage: Float?
    public var coverageInterval: [Float]?
    public var msSsimGenerated: Float?
    public var msSsimReal: Float?
    public var histogramDistance: Float?
    public var spectrumDistance: Float?

    /// The same comparisons against the training frames.
    public struct AgainstTraining: Codable, Sendable, Equatable {
        public var c2stAccuracy: Float?
        public var c2stAccuracyInterval: [Float]?
        public var c2stCalibrationAccuracy: Float?
        public var c2stCalibrationInterval: [Float]?
        public var c2stTestFrames: Int?
        public var c2stTestSeries: Int?
        public var c2stVerdict: ClassifierTwoSampleTest.Verdict?
        public var density: Float?
        public var densityInterval: [Float]?
        public var coverage: Float?
        public var coverageInterval: [Float]?
        public var msSsimReal: Float?
        public var histogramDistance: Float
        public var spectrumDistance: Float

        /// Every key always present, as in the figures.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(c2stAccuracy, forKey: .c2stAccuracy)
            try container.encode(c2stAccuracyInterval, forKey: .c2stAccuracyInterval)
            try container.encode(c2stCalibrationAccuracy, forKey: .c2stCalibrationAccuracy)
            try container.encode(c2stCalibrationInterval, forKey: .c2stCalibrationInterval)
            try container.encode(c2stTestFrames, forKey: .c2stTestFrames)
            try container.encode(c2stTestSeries, forKey: .c2stTestSeries)
            try container.encode(c2stVerdict, forKey: .c2stVerdict)
            try container.encode(density, forKey: .density)
            try container.encode(densityInterval, forKey: .densityInterval)
            try container.encode(coverage, forKey: .coverage)
            try container.encode(coverageInterval, forKey: .coverageInterval)
            try container.encode(msSsimReal, forKey: .msSsimReal)
            try container.encode(histogramDistance, forKey: .histogramDistance)
            try container.encode(spectrumDistance, forKey: .spectrumDistance)
        }
    }
    public var againstTraining: AgainstTraining

    enum CodingKeys: String, CodingKey {
        case c2stAccuracy, c2stAccuracyInterval, c2stCalibrationAccuracy, c2stCalibrationInterval, c2stTestFrames, c2stTestSeries
        case c2stVerdict, dataCopyingZ, dataCopyingCells, dataCopyingFlagged, copies, copyRate
        case copyRateInterval, heldOutCopies, heldOutCopyRate, heldOutCopyRateInterval, copyRadius, copyDistanceMean, copyDistanceMin
        case density, densityInterval, coverage, coverageInterval, nearestTrainL2Mean, nearestTrainL2Min, nearestTrainSsimMean, msSsimGenerated, msSsimReal
        case histogramDistance, spectrumDistance, againstTraining
    }

    /// Every key always present: a figure that could not be computed is null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(c2stAccuracy, forKey: .c2stAccuracy)
        try container.encode(c2stAccuracyInterval, forKey: .c2stAccuracyInterval)
        try container.encode(c2stCalibrationAccuracy, forKey: .c2stCalibrationAccuracy)
        try container.encode(c2stCalibrationInterval, forKey: .c2stCalibrationInterval)
        try container.encode(c2stTestFrames, forKey: .c2stTestFrames)
        try container.encode(c2stTestSeries, forKey: .c2stTestSeries)
        try container.encode(c2stVerdict, forKey: .c2stVerdict)
        try container.encode(dataCopyingZ, forKey: .dataCopyingZ)
        try container.encode(dataCopyingCells, forKey: .dataCopyingCells)
        try container.encode(dataCopyingFlagged, forKey: .dataCopyingFlagged)
        try container.encode(copies, forKey: .copies)
        try container.encode(copyRate, forKey: .copyRate)
        try container.encode(copyRateInterval, forKey: .copyRateInterval)
        try container.encode(heldOutCopies, forKey: .heldOutCopies)
        try container.encode(heldOutCopyRate, forKey: .heldOutCopyRate)
        try container.encode(heldOutCopyRateInterval, forKey: .heldOutCopyRateInterval)
        try container.encode(copyRadius, forKey: .copyRadius)
        try container.encode(copyDistanceMean, forKey: .copyDistanceMean)
        try container.encode(copyDistanceMin, forKey: .copyDistanceMin)
        try container.encode(nearestTrainL2Mean, forKey: .nearestTrainL2Mean)
        try container.encode(nearestTrainL2Min, forKey: .nearestTrainL2Min)
        try container.encode(nearestTrainSsimMean, forKey: .nearestTrainSsimMean)
        try container.encode(density, forKey: .density)
        try container.encode(densityInterval, forKey: .densityInterval)
        try container.encode(coverage, forKey: .coverage)
        try container.encode(coverageInterval, forKey: .coverageInterval)
        try container.encode(msSsimGenerated, forKey: .msSsimGenerated)
        try container.encode(msSsimReal, forKey: .msSsimReal)
        try container.encode(histogramDistance, forKey: .histogramDistance)
        try container.encode(spectrumDistance, forKey: .spectrumDistance)
        try container.encode(againstTraining, forKey: .againstTraining)
    }
}

/// One evaluation: what was compared, the figures, and warnings about them.
public struct EvaluationResult: Codable, Sendable {
    public var model: String
    public var modelId: Int64
    public var checkpointSha256: String
    public var generatedFrames: Int
    public var seed: UInt64
    public var trainingFrames: Int
    public var validationFrames: Int
    public var figures: EvaluationFigures
    public var warnings: [String]
    public var seconds: Double
    public var createdAt: String
    /// The registry's record of this evaluation.
    public var evaluationId: Int64?
}

/// Runs `medsynth evaluate`: N generated frames against the model's held-out
/// validation frames and, separately, its training frames.
public enum Evaluator {
    /// Pairs sampled for the mean pairwise MS-SSIM of a set.
    public static let diversityPairs = 300
    /// Generated frames compared by SSIM with their 8 nearest training frames (by distance).
    static let ssimCandidates = 8
    /// Frames per set whose power spectra are averaged (evenly spaced).
    static let spectrumFrames = 500

    public static func evaluate(model: SynthesisModel, catalog: Catalog, count: Int, seed: UInt64, reportFolder: URL? = nil,
                                progress: (String) -> Void = { _ in }) throws -> EvaluationResult {
        guard let record = model.record else { throw EvaluationError.notRegistered(model.folder.path) }
        guard model.generator.configuration.channels == 1 else { throw EvaluationError.notGrayscale(model.generator.configuration.channels) }
        let started = Date()
        progress("loading the model's frames")
        let frames = try ModelFrameSets.load(model, record: record, catalog: catalog)
        var warnings: [String] = []
        if frames.validation.count < 20 {
            warnings.append("only \(frames.validation.count) held-out validation frames: figures against them are noisy or missing; "
                            + "see against_training, and train with a larger --validation-fraction")
        }
        let heldOutSeries = Set(frames.validationIndices.map { frames.series[$0] }).count
        if heldOutSeries < 2 * ClassifierTwoSampleTest.minimumGroupsForVerdict {
            warnings.append("only \(heldOutSeries) held-out series: the two-sample test against them cannot reach a verdict (its test "
                            + "half needs \(ClassifierTwoSampleTest.minimumGroupsForVerdict) series, so about "
                            + "\(2 * ClassifierTwoSampleTest.minimumGroupsForVerdict) held out); hold out more with --validation-fraction, "
                            + "or the data set has too few series to support it")
        }
        progress("generating \(count) frames")
        let latents = Latents.seeded(seed, count: count, dimension: model.generator.configuration.latentDimension)
        var generatedValues: [Float] = []
        for start in stride(from: 0, to: count, by: 32) { generatedValues += model.generate(latentRows: latents.rows(start..<min(start + 32, count))) }
        if let bad = generatedValues.firstIndex(where: { !$0.isFinite }) {
            throw EvaluationError.diverged(frame: bad / (frames.side * frames.side))
        }
        let generated = FrameMatrix(pixels: frames.side * frames.side, values: generatedValues)
        let nearest = FrameDistance.nearest(generated, in: frames.training, count: ssimCandidates)
        progress("copy detection")
        let copyChecks = CopyChecks(frames.copyDetector(), generated: generated, heldOut: frames.validation)
        let figures = measure(generated: generated, nearest: nearest, training: frames.training, validation: frames.validation,
                              trainingSeries: frames.trainingIndices.map { frames.series[$0] },
                              validationSeries: frames.validationIndices.map { frames.series[$0] },
                              copyChecks: copyChecks, side: frames.side, seed: seed, progress: progress)
        var result = EvaluationResult(model: record.name, modelId: record.id!, checkpointSha256: model.checkpointDigest,
                                      generatedFrames: count, seed: seed, trainingFrames: frames.training.count,
                                      validationFrames: frames.validation.count, figures: figures, warnings: warnings,
                                      seconds: Date().timeIntervalSince(started), createdAt: Date().formatted(.iso8601))
        if let reportFolder {
            progress("writing the report")
            try EvaluationReport.write(result, generated: generated, training: frames.training, validation: frames.validation,
                                       copyChecks: copyChecks.generated, side: frames.side, to: reportFolder)
        }
        guard !catalog.isReadOnly else {
            result.warnings.append("the catalog is read-only: these figures are printed, not stored in the registry")
            return result
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let stored = try catalog.recordEvaluation(EvaluationRecord(
            modelId: record.id!, checkpointDigest: model.checkpointDigest, generatedFrames: count, seed: seed,
            figures: String(decoding: try encoder.encode(figures), as: UTF8.self), reportFolder: reportFolder?.path,
            createdAt: result.createdAt))
        result.evaluationId = stored.id
        return result
    }

    /// Every figure, from frames in [-1, 1]. `nearest` holds, for each
    /// generated frame, its nearest training frames by pixel distance
    /// (nearest first); `copyChecks` compare the generated and the
    /// validation frames with `training`; the series numbers keep the
    /// two-sample tests' halves apart by series.
    public static func measure(generated: FrameMatrix, nearest: [[(index: Int, distance: Float)]], training: FrameMatrix,
                               validation: FrameMatrix, trainingSeries: [Int], validationSeries: [Int], copyChecks: CopyChecks,
                               side: Int, seed: UInt64, progress: (String) -> Void = { _ in }) -> EvaluationFigures {
        let nearestDistances = nearest.map { $0[0].distance }
        let ssims = (0..<generated.count).map { index -> Float in
            nearest[index].map { StructuralSimilarity.ssim(unit(generated.row(index)), unit(training.row($0.index)), side: side) }.max() ?? 0
        }
        progress("data-copying test")
        let generatedChecks = copyChecks.generated, heldOutChecks = copyChecks.heldOut
        let copies = generatedChecks.filter(\.isCopy).count, heldOutCopies = heldOutChecks.filter(\.isCopy).count
        let copyDistances = generatedChecks.map(\.distance).filter(\.isFinite)
        let copying = DataCopyingTest.run(training: training, heldOut: validation, generated: generated,
                                          heldOutDistances: heldOutChecks.map(\.distance), generatedDistances: generatedChecks.map(\.distance),
                                          seed: seed)
        progress("two-sample tests")
        let independent = Array(0..<generated.count)
        let c2st = ClassifierTwoSampleTest.accuracy(generated, groups: independent, validation, groups: validationSeries,
                                                    seed: seed)
        let calibration = ClassifierTwoSampleTest.calibration(validation, groups: validationSeries, seed: seed)
        let c2stTraining = ClassifierTwoSampleTest.accuracy(generated, groups: independent, training, groups: trainingSeries, seed: seed)
        let calibrationTraining = ClassifierTwoSampleTest.calibration(training, groups: trainingSeries, seed: seed)
        progress("density and coverage")
        let generatedFeatures = RandomEmbedding.features(generated)
        let fidelity = DensityCoverage.measure(real: RandomEmbedding.features(validation), series: validationSeries,
                                               generated: generatedFeatures, seed: seed)
        let fidelityTraining = DensityCoverage.measure(real: RandomEmbedding.features(training), series: trainingSeries,
                                                       generated: generatedFeatures, seed: seed)
        progress("diversity and statistics")
        let generatedSpectrum = ImageStatistics.meanLogSpectrum(frames(generated, limit: spectrumFrames), side: side)
        let generatedIntensities = generated.values.map(unitValue)
        return EvaluationFigures(
            c2stAccuracy: c2st?.accuracy, c2stAccuracyInterval: c2st?.interval, c2stCalibrationAccuracy: calibration?.accuracy,
            c2stCalibrationInterval: calibration?.interval, c2stTestFrames: c2st?.testFrames, c2stTestSeries: c2st?.testGroups,
            c2stVerdict: ClassifierTwoSampleTest.verdict(c2st, calibration: calibration),
            dataCopyingZ: copying?.z, dataCopyingCells: copying?.cells, dataCopyingFlagged: copying.map { $0.z < DataCopyingTest.copyingThreshold },
            copies: copies, copyRate: Float(copies) / Float(max(1, generated.count)),
            copyRateInterval: BinomialInterval.wilson(successes: copies, trials: generated.count),
            heldOutCopies: validation.count == 0 ? nil : heldOutCopies,
            heldOutCopyRate: validation.count == 0 ? nil : Float(heldOutCopies) / Float(validation.count),
            heldOutCopyRateInterval: validation.count == 0 ? nil : BinomialInterval.wilson(successes: heldOutCopies, trials: validation.count),
            copyRadius: copyChecks.radius, copyDistanceMean: mean(copyDistances), copyDistanceMin: copyDistances.min() ?? .infinity,
            nearestTrainL2Mean: mean(nearestDistances), nearestTrainL2Min: nearestDistances.min() ?? 0,
            nearestTrainSsimMean: mean(ssims),
            density: fidelity?.density, densityInterval: fidelity?.densityInterval, coverage: fidelity?.coverage,
            coverageInterval: fidelity?.coverageInterval,
            msSsimGenerated: meanPairwiseMSSSIM(generated, side: side, seed: seed),
            msSsimReal: meanPairwiseMSSSIM(validation, side: side, seed: seed),
            histogramDistance: validation.count == 0 ? nil : ImageStatistics.histogramDistance(generatedIntensities, validation.values.map(unitValue)),
            spectrumDistance: validation.count == 0 ? nil
                : ImageStatistics.spectrumDistance(generatedSpectrum, ImageStatistics.meanLogSpectrum(frames(validation, limit: spectrumFrames), side: side)),
            againstTraining: .init(c2stAccuracy: c2stTraining?.accuracy, c2stAccuracyInterval: c2stTraining?.interval,
                                   c2stCalibrationAccuracy: calibrationTraining?.accuracy,
                                   c2stCalibrationInterval: calibrationTraining?.interval, c2stTestFrames: c2stTraining?.testFrames,
                                   c2stTestSeries: c2stTraining?.testGroups,
                                   c2stVerdict: ClassifierTwoSampleTest.verdict(c2stTraining, calibration: calibrationTraining),
                                   density: fidelityTraining?.density, densityInterval: fidelityTraining?.densityInterval,
                                   coverage: fidelityTraining?.coverage, coverageInterval: fidelityTraining?.coverageInterval,
                                   msSsimReal: meanPairwiseMSSSIM(training, side: side, seed: seed),
                                   histogramDistance: ImageStatistics.histogramDistance(generatedIntensities, training.values.map(unitValue)),
                                   spectrumDistance: ImageStatistics.spectrumDistance(
                                       generatedSpectrum, ImageStatistics.meanLogSpectrum(frames(training, limit: spectrumFrames), side: side))))
    }

    static func unitValue(_ value: Float) -> Float { (value + 1) / 2 }
    static func unit(_ frame: ArraySlice<Float>) -> [Float] { frame.map(unitValue) }
    /// Up to `limit` evenly spaced frames of `matrix`, on the 0-to-1 scale.
    static func frames(_ matrix: FrameMatrix, limit: Int = .max) -> [[Float]] {
        let picked = matrix.count <= limit ? Array(0..<matrix.count) : (0..<limit).map { $0 * matrix.count / limit }
        return picked.map { unit(matrix.row($0)) }
    }
    static func mean(_ values: [Float]) -> Float { values.isEmpty ? 0 : values.reduce(0, +) / Float(values.count) }

    /// Mean MS-SSIM over up to `diversityPairs` random pairs of distinct frames; nil with fewer than 2 frames.
    static func meanPairwiseMSSSIM(_ set: FrameMatrix, side: Int, seed: UInt64) -> Float? {
        guard set.count >= 2 else { return nil }
        var pairs: [(Int, Int)] = []
        let allPairs = set.count * (set.count - 1) / 2
        if allPairs <= diversityPairs {
            for i in 0..<set.count { for j in (i + 1)..<set.count { pairs.append((i, j)) } }
        } else {
            var random = EngineRandom(seed: seed ^ 0xD1CE)
            while pairs.count < diversityPairs {
                let i = Int(random.nextUInt64() % UInt64(set.count)), j = Int(random.nextUInt64() % UInt64(set.count))
                if i != j { pairs.append((i, j)) }
            }
        }
        return mean(pairs.map { StructuralSimilarity.msssim(unit(set.row($0.0)), unit(set.row($0.1)), side: side) })
    }
}

/// The copy detector's verdicts on the generated and the held-out frames.
public struct CopyChecks: Sendable {
    public let generated: [CopyCheck]
    public let heldOut: [CopyCheck]
    public let radius: Float

    public init(_ detector: CopyDetector, generated: FrameMatrix, heldOut: FrameMatrix) {
        self.generated = detector.check(generated)
        self.heldOut = detector.check(heldOut)
        radius = detector.radius
    }
}

/// Confidence intervals of a proportion.
public enum BinomialInterval {
    /// The Wilson score interval of `successes` in `trials` at z (1.96: 95 %),
    /// as [low, high]; [0, 1] for no trials. Unlike the normal approximation
    /// it stays inside [0, 1] and is not empty at 0 or n successes.
    public static func wilson(successes: Int, trials: Int, z: Double = 1.96) -> [Float] {
        guard trials > 0 else { return [0, 1] }
        let n = Double(trials), p = Double(successes) / n
        let centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        let half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot()
        return [Float(max(0, centre - half)), Float(min(1, centre + half))]
    }
}

/// An evaluation that cannot be done.
public enum EvaluationError: Error, CustomStringConvertible, Sendable {
    case notRegistered(String)
    case notGrayscale(Int)
    case diverged(frame: Int)
    case report(String, path: String)

    public var description: String {
        switch self {
        case .notRegistered(let folder):
            "evaluate compares with the model's training and validation frames, which only a registered model has: \(folder)"
        case .notGrayscale(let channels): "evaluate measures grayscale models; this one makes \(channels)-channel images"
        case .diverged(let frame): "the model generates values that are not numbers (frame \(frame)); it diverged in training"
        case .report(let reason, let path): "\(reason): \(path)"
        }
    }
}

extension EvaluationResult {
    /// `evaluate --json`: one object, the figures' keys at the top level
    /// beside the run's (`model`, `generated_frames`, ...), sorted.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var object = try JSONSerialization.jsonObject(with: encoder.encode(self)) as! [String: Any]
        let figures = object.removeValue(forKey: "figures") as! [String: Any]
        object.merge(figures) { current, _ in current }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
