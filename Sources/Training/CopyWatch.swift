import Engine
import GAN
import Imaging
import ModelStore

/// Training's copy check (`CopyCheckSettings`; docs/training.md, "Stopping
/// before the generator copies"): how many of a fixed set of generated
/// frames copy a training frame, by the test of the export's privacy gate.
/// On a training set of a few acquisitions a generator that learns them
/// starts giving them back after some hundred steps; the check finds the
/// step, so that the model kept is the last one before it.
struct CopyWatch {
    let settings: CopyCheckSettings
    let detector: CopyDetector
    /// `settings.frames` latents, drawn once from the model's seed.
    let latents: [Float]

    /// The generated frames of `generator` that copy a training frame.
    func copies(by generator: Generator) -> Int {
        let images = generator.imageChannel(of: generator.inferenceImages(latents: latents))
        return detector.check(FrameMatrix(pixels: images.count / settings.frames, values: images)).filter(\.isCopy).count
    }
}

extension CopyWatch {
    /// The detector over the training frames of `frames` (as `evaluate`'s).
    init(_ settings: CopyCheckSettings, frames: ModelFrames, seed: UInt64, latentDimension: Int) {
        var random = SeedStreams.stream(.copyCheckLatents, seed: seed)
        self.init(
            settings: settings, detector: ModelFrameSets(frames).copyDetector(),
            latents: (0..<settings.frames * latentDimension).map { _ in random.normal() })
    }
}

extension Generator {
    /// The images of `latents` (rows of `latentDimension`) in inference mode,
    /// in chunks of 16: the result does not depend on the chunk size.
    func inferenceImages(latents: [Float]) -> [Float] {
        let dimension = configuration.latentDimension, count = latents.count / dimension
        var images: [Float] = []
        for start in stride(from: 0, to: count, by: 16) {
            let rows = min(16, count - start)
            let batch = Tensor(shape: [rows, dimension], values: Array(latents[(start * dimension)..<((start + rows) * dimension)]))
            images += forward(batch, training: false).values
        }
        return images
    }
}
