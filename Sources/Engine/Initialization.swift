import Foundation

/// A seeded random source (SplitMix64): the same seed gives the same
/// parameters, latents and augmentations on every machine.
public struct EngineRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(nextUInt64() >> 40) / Float(1 << 24) }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(nextUInt64() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(nextUInt64() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// `values` in an order drawn by Fisher-Yates with this generator.
    public mutating func shuffled<Element>(_ values: [Element]) -> [Element] {
        var result = values
        for index in stride(from: result.count - 1, to: 0, by: -1) {
            result.swapAt(index, Int(nextUInt64() % UInt64(index + 1)))
        }
        return result
    }
}

/// PyTorch's default initialisation of convolution and linear layers
/// (`kaiming_uniform_(a=sqrt(5))` for weights, which is U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in)), and the same bound for biases).
public final class DefaultInitializer {
    private var random: EngineRandom

    public init(random: EngineRandom) { self.random = random }

    func uniform(fanIn: Int) -> (UnsafeMutableBufferPointer<Float>) -> Void {
        let bound = 1 / Float(fanIn).squareRoot()
        return { [self] buffer in
            for index in buffer.indices { buffer[index] = random.uniform(-bound, bound) }
        }
    }

    static func constant(_ value: Float) -> (UnsafeMutableBufferPointer<Float>) -> Void {
        { buffer in buffer.update(repeating: value) }
    }
}
