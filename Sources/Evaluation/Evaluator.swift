import Catalog
import Engine
import Foundation
import Imaging
import ModelStore

/// How the generated frames compare with one set of real frames (the
/// held-out validation frames, or the training frames). JSON keys are the
/// snake_case names, every one always present (null when it needs more
/// frames or series than there are).
public struct RealSetComparison: Codable, Sendable, Equatable {
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
    /// Density and coverage (Naeem et al.) in the random embedding, with 95 % intervals.
    public var density: Float?
    public var densityInterval: [Float]?
    public var coverage: Float?
    public var coverageInterval: [Float]?
    /// Mean pairwise MS-SSIM among the real frames.
    public var msSsimReal: Float?
    /// Intensity histogram and power spectrum distances, each with its 95 %
    /// interval (generated frames resampled, real ones by whole series).
    public var histogramDistance: Float?
    public var histogramDistanceInterval: [Float]?
    public var spectrumDistance: Float?
    public var spectrumDistanceInterval: [Float]?

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
        try container.encode(histogramDistanceInterval, forKey: .histogramDistanceInterval)
        try container.encode(spectrumDistance, forKey: .spectrumDistance)
        try container.encode(spectrumDistanceInterval, forKey: .spectrumDistanceInterval)
    }
}

/// The figures of one evaluation (docs/evaluation.md); JSON keys are the
/// snake_case names and stay stable: the comparison with the validation
/// frames at the top level, the one with the training frames under
/// `against_training`. Distances are RMS differences of 0-to-1 intensities;
/// figures that need more frames than there are are null.
public struct EvaluationFigures: Codable, Sendable, Equatable {
    /// Compared with the held-out validation frames.
    public var validation: RealSetComparison
    /// The same comparisons against the training frames.
    public var againstTraining: RealSetComparison
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
    /// Mean pairwise MS-SSIM among the generated frames.
    public var msSsimGenerated: Float?

    enum CodingKeys: String, CodingKey {
        case dataCopyingZ, dataCopyingCells, dataCopyingFlagged, copies, copyRate, copyRateInterval, heldOutCopies, heldOutCopyRate
        case heldOutCopyRateInterval, copyRadius, copyDistanceMean, copyDistanceMin, nearestTrainL2Mean, nearestTrainL2Min
        case nearestTrainSsimMean, msSsimGenerated, againstTraining
    }

    public init(
        validation: RealSetComparison, againstTraining: RealSetComparison, copying: DataCopyingTest?,
        copies: CopyFigures, nearest: NearestFigures, msSsimGenerated: Float?
    ) {
        self.validation = validation
        self.againstTraining = againstTraining
        dataCopyingZ = copying?.z
        dataCopyingCells = copying?.cells
        dataCopyingFlagged = copying.map { $0.z < DataCopyingTest.copyingThreshold }
        (self.copies, copyRate, copyRateInterval) = (copies.copies, copies.copyRate, copies.copyRateInterval)
        (heldOutCopies, heldOutCopyRate, heldOutCopyRateInterval) = (
            copies.heldOutCopies, copies.heldOutCopyRate, copies.heldOutCopyRateInterval
        )
        (copyRadius, copyDistanceMean, copyDistanceMin) = (copies.radius, copies.distanceMean, copies.distanceMin)
        (nearestTrainL2Mean, nearestTrainL2Min, nearestTrainSsimMean) = (nearest.l2Mean, nearest.l2Min, nearest.ssimMean)
        self.msSsimGenerated = msSsimGenerated
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        validation = try RealSetComparison(from: decoder)
        againstTraining = try container.decode(RealSetComparison.self, forKey: .againstTraining)
        dataCopyingZ = try container.decodeIfPresent(Float.self, forKey: .dataCopyingZ)
        dataCopyingCells = try container.decodeIfPresent(Int.self, forKey: .dataCopyingCells)
        dataCopyingFlagged = try container.decodeIfPresent(Bool.self, forKey: .dataCopyingFlagged)
        copies = try container.decode(Int.self, forKey: .copies)
        copyRate = try container.decode(Float.self, forKey: .copyRate)
        copyRateInterval = try container.decode([Float].self, forKey: .copyRateInterval)
        heldOutCopies = try container.decodeIfPresent(Int.self, forKey: .heldOutCopies)
        heldOutCopyRate = try container.decodeIfPresent(Float.self, forKey: .heldOutCopyRate)
        heldOutCopyRateInterval = try container.decodeIfPresent([Float].self, forKey: .heldOutCopyRateInterval)
        copyRadius = try container.decode(Float.self, forKey: .copyRadius)
        copyDistanceMean = try container.decode(Float.self, forKey: .copyDistanceMean)
        copyDistanceMin = try container.decode(Float.self, forKey: .copyDistanceMin)
        nearestTrainL2Mean = try container.decode(Float.self, forKey: .nearestTrainL2Mean)
        nearestTrainL2Min = try container.decode(Float.self, forKey: .nearestTrainL2Min)
        nearestTrainSsimMean = try container.decode(Float.self, forKey: .nearestTrainSsimMean)
        msSsimGenerated = try container.decodeIfPresent(Float.self, forKey: .msSsimGenerated)
    }

    /// Every key always present: a figure that could not be computed is null.
    public func encode(to encoder: any Encoder) throws {
        try validation.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(againstTraining, forKey: .againstTraining)
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
        try container.encode(msSsimGenerated, forKey: .msSsimGenerated)
    }
}

/// The copy detector's figures: on the generated frames, on the held-out
/// real frames (its false-positive rate), and the distances.
public struct CopyFigures: Sendable {
    public var copies: Int
    public var copyRate: Float
    public var copyRateInterval: [Float]
    public var heldOutCopies: Int?
    public var heldOutCopyRate: Float?
    public var heldOutCopyRateInterval: [Float]?
    public var radius: Float
    public var distanceMean: Float
    public var distanceMin: Float

    init(_ checks: CopyChecks, generated: Int, heldOut: Int) {
        copies = checks.generated.filter(\.isCopy).count
        copyRate = Float(copies) / Float(max(1, generated))
        copyRateInterval = BinomialInterval.wilson(successes: copies, trials: generated)
        let flagged = checks.heldOut.filter(\.isCopy).count
        heldOutCopies = heldOut == 0 ? nil : flagged
        heldOutCopyRate = heldOut == 0 ? nil : Float(flagged) / Float(heldOut)
        heldOutCopyRateInterval = heldOut == 0 ? nil : BinomialInterval.wilson(successes: flagged, trials: heldOut)
        radius = checks.radius
        let distances = checks.generated.map(\.distance).filter(\.isFinite)
        distanceMean = Evaluator.mean(distances)
        distanceMin = distances.min() ?? .infinity
    }
}

/// How close each generated frame comes to its nearest training frames.
public struct NearestFigures: Sendable {
    /// Pixel distance to the nearest training frame: mean and minimum.
    public var l2Mean: Float
    public var l2Min: Float
    /// The mean of each generated frame's best SSIM among its nearest training frames.
    public var ssimMean: Float
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
    /// The folder of `sheet.png` and `index.html`, when a report was written.
    public var reportFolder: String?
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

    public static func evaluate(
        model: TrainedModel, catalog: Catalog, count: Int, seed: UInt64, reportFolder: URL? = nil,
        progress: (String) -> Void = { _ in }
    ) throws -> EvaluationResult {
        guard let record = model.record else { throw EvaluationError.notRegistered(model.folder.path) }
        guard model.makesGrayscaleFrames else {
            throw EvaluationError.notGrayscale(model.generator.configuration.channels)
        }
        if let reportFolder { try EvaluationReport.prepare(folder: reportFolder) }
        let started = Date()
        progress("loading the model's frames")
        let frames = try ModelFrameSets.load(model, record: record, catalog: catalog)
        var warnings: [String] = []
        if frames.validation.count < 20 {
            warnings.append(
                "only \(frames.validation.count) held-out validation frames: figures against them are noisy or missing; "
                    + "see against_training, and train with a larger --validation-fraction")
        }
        let heldOutSeries = Set(frames.validationIndices.map { frames.series[$0] }).count
        if heldOutSeries < 2 * ClassifierTwoSampleTest.minimumGroupsForVerdict {
            warnings.append(
                "only \(heldOutSeries) held-out series: the two-sample test against them cannot reach a verdict (its test "
                    + "half needs \(ClassifierTwoSampleTest.minimumGroupsForVerdict) series, so about "
                    + "\(2 * ClassifierTwoSampleTest.minimumGroupsForVerdict) held out); hold out more with --validation-fraction, "
                    + "or the data set has too few series to support it")
        }
        progress("generating \(count) frames")
        let generated = FrameMatrix(pixels: frames.side * frames.side, values: try generatedValues(model, count: count, seed: seed))
        let nearest = FrameDistance.nearest(generated, in: frames.training, count: ssimCandidates)
        progress("copy detection")
        let copyChecks = CopyChecks(frames.copyDetector(), generated: generated, heldOut: frames.validation)
        let figures = measure(
            generated: generated, nearest: nearest, training: frames.training, validation: frames.validation,
            trainingSeries: frames.trainingIndices.map { frames.series[$0] },
            validationSeries: frames.validationIndices.map { frames.series[$0] },
            copyChecks: copyChecks, side: frames.side, seed: seed, progress: progress)
        var result = EvaluationResult(
            model: record.name, modelId: record.id!, checkpointSha256: model.checkpointDigest,
            generatedFrames: count, seed: seed, trainingFrames: frames.training.count,
            validationFrames: frames.validation.count, figures: figures, warnings: warnings,
            seconds: Date().timeIntervalSince(started), createdAt: Date().formatted(.iso8601))
        if let reportFolder {
            progress("writing the report")
            try EvaluationReport.write(
                result, generated: generated, training: frames.training, validation: frames.validation,
                copyChecks: copyChecks.generated, side: frames.side, to: reportFolder)
            result.reportFolder = reportFolder.path
        }
        guard !catalog.isReadOnly else {
            result.warnings.append("the catalog is read-only: these figures are printed, not stored in the registry")
            return result
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let stored = try catalog.recordEvaluation(
            EvaluationRecord(
                modelId: record.id!, checkpointDigest: model.checkpointDigest, generatedFrames: count, seed: seed,
                figures: String(decoding: try encoder.encode(figures), as: UTF8.self), reportFolder: reportFolder?.path,
                createdAt: result.createdAt))
        result.evaluationId = stored.id
        return result
    }

    /// `count` frames of `model` from latents seeded by `seed`, one after
    /// another, in [-1, 1]. Throws `diverged` naming the first frame with a
    /// value that is not a number.
    static func generatedValues(_ model: TrainedModel, count: Int, seed: UInt64) throws -> [Float] {
        let latents = Latents.seeded(seed, count: count, dimension: model.generator.configuration.latentDimension)
        var values: [Float] = []
        for start in stride(from: 0, to: count, by: 32) {
            values += model.generateFrames(latentRows: latents.rows(start..<min(start + 32, count)))
        }
        let side = model.generator.configuration.resolution
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw EvaluationError.diverged(frame: bad / (side * side)) }
        return values
    }

    /// Every figure, from frames in [-1, 1]. `nearest` holds, for each
    /// generated frame, its nearest training frames by pixel distance
    /// (nearest first); `copyChecks` compare the generated and the
    /// validation frames with `training`; the series numbers keep the
    /// two-sample tests' halves apart by series.
    public static func measure(
        generated: FrameMatrix, nearest: [[(index: Int, distance: Float)]], training: FrameMatrix,
        validation: FrameMatrix, trainingSeries: [Int], validationSeries: [Int], copyChecks: CopyChecks,
        side: Int, seed: UInt64, progress: (String) -> Void = { _ in }
    ) -> EvaluationFigures {
        let nearestDistances = nearest.map { $0[0].distance }
        let ssims = (0..<generated.count).map { index -> Float in
            nearest[index].map { StructuralSimilarity.ssim(unit(generated.row(index)), unit(training.row($0.index)), side: side) }.max()
                ?? 0
        }
        progress("data-copying test")
        let copying = DataCopyingTest.run(
            training: training, heldOut: validation, generated: generated,
            heldOutDistances: copyChecks.heldOut.map(\.distance),
            generatedDistances: copyChecks.generated.map(\.distance), seed: seed)
        let reference = GeneratedSet(generated, side: side)
        progress("comparison with the validation frames")
        let againstValidation = compare(reference, with: validation, series: validationSeries, side: side, seed: seed)
        progress("comparison with the training frames")
        let againstTraining = compare(reference, with: training, series: trainingSeries, side: side, seed: seed)
        return EvaluationFigures(
            validation: againstValidation, againstTraining: againstTraining, copying: copying,
            copies: CopyFigures(copyChecks, generated: generated.count, heldOut: validation.count),
            nearest: NearestFigures(l2Mean: mean(nearestDistances), l2Min: nearestDistances.min() ?? 0, ssimMean: mean(ssims)),
            msSsimGenerated: meanPairwiseMSSSIM(generated, side: side, seed: seed))
    }

    /// What the comparisons need of the generated frames, computed once.
    struct GeneratedSet {
        let frames: FrameMatrix
        let features: FrameMatrix
        /// Per frame (up to `spectrumFrames` for the spectra): log radial power spectrum, intensity histogram.
        let spectra: [[Double]]
        let histograms: [[Double]]

        init(_ frames: FrameMatrix, side: Int) {
            self.frames = frames
            features = RandomEmbedding.features(frames)
            spectra = Evaluator.frames(frames, limit: spectrumFrames).map { ImageStatistics.logSpectrum($0, side: side) }
            histograms = (0..<frames.count).map { ImageStatistics.intensityHistogram(unit(frames.row($0))) }
        }
    }

    /// The generated frames against one set of real frames, whose series
    /// numbers keep the tests' halves apart. With no real frames every
    /// figure is null.
    static func compare(_ generated: GeneratedSet, with real: FrameMatrix, series: [Int], side: Int, seed: UInt64) -> RealSetComparison {
        let independent = Array(0..<generated.frames.count)
        let c2st = ClassifierTwoSampleTest.accuracy(generated.frames, groups: independent, real, groups: series, seed: seed)
        let calibration = ClassifierTwoSampleTest.calibration(real, groups: series, seed: seed)
        let fidelity = DensityCoverage.measure(
            real: RandomEmbedding.features(real), series: series, generated: generated.features,
            seed: seed)
        let distances = real.count == 0 ? nil : distributionDistances(generated, real: real, series: series, side: side, seed: seed)
        return RealSetComparison(
            c2stAccuracy: c2st?.accuracy, c2stAccuracyInterval: c2st?.interval, c2stCalibrationAccuracy: calibration?.accuracy,
            c2stCalibrationInterval: calibration?.interval, c2stTestFrames: c2st?.testFrames, c2stTestSeries: c2st?.testGroups,
            c2stVerdict: ClassifierTwoSampleTest.verdict(c2st, calibration: calibration),
            density: fidelity?.density, densityInterval: fidelity?.densityInterval, coverage: fidelity?.coverage,
            coverageInterval: fidelity?.coverageInterval, msSsimReal: meanPairwiseMSSSIM(real, side: side, seed: seed),
            histogramDistance: distances?.histogram, histogramDistanceInterval: distances?.histogramInterval,
            spectrumDistance: distances?.spectrum, spectrumDistanceInterval: distances?.spectrumInterval)
    }

    /// The histogram and spectrum distances of the generated frames to
    /// `real`, with their bootstrap intervals.
    static func distributionDistances(_ generated: GeneratedSet, real: FrameMatrix, series: [Int], side: Int, seed: UInt64) -> (
        histogram: Float, histogramInterval: [Float], spectrum: Float, spectrumInterval: [Float]
    ) {
        let realHistograms = (0..<real.count).map { ImageStatistics.intensityHistogram(unit(real.row($0))) }
        let spectrumRows = pickedRows(real.count, limit: spectrumFrames)
        let realSpectra = spectrumRows.map { ImageStatistics.logSpectrum(unit(real.row($0)), side: side) }
        var random = EngineRandom(seed: seed)
        let histogramInterval = GroupBootstrap.meanDistanceInterval(
            generated: generated.histograms, real: realHistograms, groups: series, distance: ImageStatistics.wassersteinDistance,
            random: &random)
        let spectrumInterval = GroupBootstrap.meanDistanceInterval(
            generated: generated.spectra, real: realSpectra, groups: spectrumRows.map { series[$0] },
            distance: ImageStatistics.spectrumDistance, random: &random)
        return (
            ImageStatistics.wassersteinDistance(ImageStatistics.meanRow(generated.histograms), ImageStatistics.meanRow(realHistograms)),
            histogramInterval,
            ImageStatistics.spectrumDistance(ImageStatistics.meanRow(generated.spectra), ImageStatistics.meanRow(realSpectra)),
            spectrumInterval
        )
    }

    static func unitValue(_ value: Float) -> Float { (value + 1) / 2 }
    static func unit(_ frame: ArraySlice<Float>) -> [Float] { frame.map(unitValue) }
    /// Up to `limit` evenly spaced frames of `matrix`, on the 0-to-1 scale.
    static func frames(_ matrix: FrameMatrix, limit: Int = .max) -> [[Float]] {
        pickedRows(matrix.count, limit: limit).map { unit(matrix.row($0)) }
    }
    /// Up to `limit` evenly spaced row numbers of `count`.
    static func pickedRows(_ count: Int, limit: Int) -> [Int] {
        count <= limit ? Array(0..<count) : (0..<limit).map { $0 * count / limit }
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
