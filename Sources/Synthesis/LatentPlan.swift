import ModelStore

/// The latents a run draws from, in order: the seeded rows 0, 1, ... up to
/// a limit, or a file's rows.
struct LatentPlan {
    let source: Latents.Source
    /// Frames to write.
    let target: Int
    /// The most rows drawn.
    let limit: Int
    let dimension: Int
    private let file: Latents?

    init(_ request: SynthesisRequest.LatentRequest, drawLimit: Int?, dimension: Int) throws {
        self.dimension = dimension
        switch request {
        case .seed(let seed, let count):
            guard (1...Synthesizer.maximumFrames).contains(count) else {
                throw SynthesisError.tooLarge("the frame count must be between 1 and \(Synthesizer.maximumFrames), not \(count)")
            }
            (source, target, file) = (.seed(seed), count, nil)
            limit = max(drawLimit ?? Latents.defaultDrawLimit(target: count), count)
        case .file(let path, let count):
            let latents = try Latents.read(path: path, dimension: dimension, maximumRows: Synthesizer.maximumFrames)
            if let count, count != latents.count {
                throw ModelError.latents("--count \(count) differs from the file's \(latents.count) rows", path: path)
            }
            (source, target, limit, file) = (latents.source, latents.count, latents.count, latents)
        }
    }

    /// Rows `range`, row-major [range.count, dimension].
    func rows(_ range: Range<Int>) -> ArraySlice<Float> {
        switch source {
        case .seed(let seed): ArraySlice(Latents.seededRows(seed, range, dimension: dimension))
        case .file: file!.rows(range)
        }
    }
}
