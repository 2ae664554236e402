/// The counter-based random streams of a model: each purpose and index gets
/// its own generator, seeded from the training's seed (or a synthesis's), so
/// no generator state needs saving, a resumed run draws what a single run
/// would, and a synthetic frame's latent depends on its index alone.
public enum SeedStreams {
    public enum Purpose: UInt64, Sendable {
        case generatorInitialisation = 1, discriminatorInitialisation, split, epochOrder, latents, augmentation, gridLatents
        /// The latents of `medsynth synthesize`, one stream per latent index.
        case synthesisLatents
        /// The latents a weight average's BatchNorm statistics are estimated on.
        case averageStatistics
        /// The fixed latents of training's copy check (`CopyCheckSettings`).
        case copyCheckLatents
        /// The utility measure's task model: its initial weights, and its batches and augmentations.
        case taskModelInitialisation, taskModelBatches
        /// The perturbations of training's gradient penalty, one stream per step.
        case penaltyNoise
    }

    public static func stream(_ purpose: Purpose, seed: UInt64, index: UInt64 = 0) -> EngineRandom {
        EngineRandom(seed: self.seed(purpose, seed: seed, index: index))
    }

    /// The seed of a stream: the run's seed, the purpose and the index mixed
    /// through SplitMix64 twice, so that neighbouring indices give unrelated streams.
    public static func seed(_ purpose: Purpose, seed: UInt64, index: UInt64 = 0) -> UInt64 {
        var mixer = EngineRandom(seed: seed ^ (purpose.rawValue &* 0x9E37_79B9_7F4A_7C15))
        var second = EngineRandom(seed: mixer.nextUInt64() ^ (index &* 0xD1B5_4A32_D192_ED03))
        return second.nextUInt64()
    }
}
