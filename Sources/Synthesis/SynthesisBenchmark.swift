import Catalog
import Engine
import Foundation
import ModelStore

/// The synthesize scenario of `medsynth bench`: `count` frames of a
/// registered model written as DICOM (one frame per file) into `folder`,
/// behind the privacy gate, not registered. Reports the rate over the whole
/// run and over the first and the second half of the frames written, so that
/// a step that slows as frames accumulate shows as a ratio below 1.
public enum SynthesisBenchmark {
    public struct Result: Codable, Sendable {
        public var scenario = "synthesize"
        public var model: String
        public var framesRequested: Int
        public var framesWritten: Int
        public var framesWithheld: Int
        /// The whole run: loading the training frames, building the copy detector, generating, checking, writing.
        public var seconds: Double
        public var framesPerSecond: Double
        /// Until the first batch was written: the model's training frames and the copy detector.
        public var setupSeconds: Double
        /// Frames written per second from the first batch to the half, and from the half to the end.
        public var firstHalfPerSecond: Double
        public var secondHalfPerSecond: Double
        public var secondToFirstRatio: Double
        public var peakRSSBytes: Int

        enum CodingKeys: String, CodingKey {
            case scenario, model, seconds
            case framesRequested = "frames_requested", framesWritten = "frames_written", framesWithheld = "frames_withheld"
            case framesPerSecond = "frames_per_second", setupSeconds = "setup_seconds"
            case firstHalfPerSecond = "first_half_per_second", secondHalfPerSecond = "second_half_per_second"
            case secondToFirstRatio = "second_to_first_ratio", peakRSSBytes = "peak_rss_bytes"
        }
    }

    public static func run(model: TrainedModel, catalog: Catalog, count: Int, folder: URL) throws -> Result {
        var request = SynthesisRequest(latentSource: .seed(2, count: count), output: folder)
        request.register = false
        var marks: [(written: Int, seconds: Double)] = []
        let started = Date()
        let result = try Synthesizer.run(
            model: model, request: request, catalog: catalog,
            progress: { done, _ in
                marks.append((done, Date().timeIntervalSince(started)))
            })
        let seconds = Date().timeIntervalSince(started)
        let first = marks.first ?? (0, seconds), last = marks.last ?? (0, seconds)
        let middle = marks.first { $0.written * 2 >= last.written } ?? last
        func rate(_ from: (written: Int, seconds: Double), _ to: (written: Int, seconds: Double)) -> Double {
            to.seconds > from.seconds ? Double(to.written - from.written) / (to.seconds - from.seconds) : 0
        }
        let firstHalf = rate(first, middle), secondHalf = rate(middle, last)
        return Result(
            model: model.name, framesRequested: count, framesWritten: result.framesWritten,
            framesWithheld: result.withheldLatentIndices.count, seconds: seconds,
            framesPerSecond: Double(result.framesWritten) / seconds, setupSeconds: first.seconds,
            firstHalfPerSecond: firstHalf, secondHalfPerSecond: secondHalf,
            secondToFirstRatio: firstHalf > 0 ? secondHalf / firstHalf : 0, peakRSSBytes: ProcessMemory.peakResidentBytes())
    }
}
