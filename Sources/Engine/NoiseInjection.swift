/// StyleGAN's noise inputs (Karras, Laine and Aila, "A Style-Based Generator
/// Architecture for Generative Adversarial Networks", CVPR 2019, section
/// 3.2): one map of standard normal noise per image, added to every channel
/// with a learned per-channel scale. The generator then need not make
/// stochastic detail, such as ultrasound speckle, out of its latent through
/// the whole network: the detail comes from the noise and the network
/// learns how much of it each feature takes.
///
/// Input x [N, C, H, W] and noise [N, 1, H, W], output [N, C, H, W]:
/// y[n, c, h, w] = x[n, c, h, w] + scale[c] * noise[n, 0, h, w]. `scale`
/// [C] starts at 0, as StyleGAN's does, so the layer starts as the identity.
public final class NoiseInjection: LayoutDeclaring {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    public let scale: Parameter
    let store: ParameterStore
    private var noise: Tensor?
    private var output: Tensor?

    public init(_ name: String, store: ParameterStore, channels: Int) {
        self.store = store
        scale = store.make("\(name).scale", shape: [channels], initialize: DefaultInitializer.constant(0))
    }

    public func forward(_ x: Tensor, noise maps: Tensor) -> Tensor {
        Profiler.measure("NoiseInjection", .forward) {
            let (n, c, h, w) = x.nchw
            precondition(c == scale.count, "NoiseInjection \(scale.name): input has \(c) channels, expected \(scale.count)")
            precondition(
                maps.shape == [n, 1, h, w], "NoiseInjection \(scale.name): noise must be [\(n), 1, \(h), \(w)], got \(maps.shape)")
            noise = maps
            let plane = h * w
            let y = reuseTensor(&output, x.shape)
            let factors = store.value(scale)
            parallelChunks(n * c, minimumPerThread: 1) { range in
                for map in range {
                    let factor = factors[map % c]
                    let source = x.data + map * plane, target = y.data + map * plane
                    let added = maps.data + (map / c) * plane
                    for p in 0..<plane { target[p] = source[p] + factor * added[p] }
                }
            }
            return y
        }
    }

    /// Adds d scale[c] = sum over (n, h, w) of dy * noise into the store and
    /// returns dy itself: the input's gradient is the output's.
    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        guard parameterGradients else { return dy }
        Profiler.measure("NoiseInjection", .backward) {
            let maps = kept(noise, by: scale.name)
            let (n, c, h, w) = dy.nchw
            let plane = h * w
            let scaleGradient = store.gradient(scale)
            parallelChunks(c, minimumPerThread: 1) { range in
                for channel in range {
                    var sum: Float = 0
                    for image in 0..<n {
                        let gradient = dy.data + (image * c + channel) * plane, added = maps.data + image * plane
                        for p in 0..<plane { sum += gradient[p] * added[p] }
                    }
                    scaleGradient[channel] += sum
                }
            }
        }
        return dy
    }
}
