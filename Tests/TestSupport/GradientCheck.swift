import Engine
import Testing

/// Finite-difference gradient checks in float32.
///
/// The loss is L = sum(y * r) for a fixed random r, accumulated in double.
/// With central differences and step h = 1e-2, the float32 rounding of the
/// forward pass perturbs L by about 1e-7 * sqrt(n) * |terms| (at most ~1e-5
/// here), which divided by 2h is ~5e-4; the truncation error is O(h^2 f''')
/// ~ 1e-4. So analytic and numeric gradients must agree within
/// 3e-3 + 1e-2 * |numeric|; a wrong gradient is off by far more.
public enum GradientCheck {
    public static let step: Float = 1e-2

    /// Checks d(loss)/d(input) at sampled entries and d(loss)/d(parameter) at
    /// sampled entries of every parameter of `store`. `run` does the forward
    /// pass and returns the output tensor.
    public static func check(
        _ label: String, input: Tensor, store: ParameterStore?, samples: Int = 12, step: Float = GradientCheck.step,
        run: (Tensor) -> Tensor, backward: (Tensor) -> Tensor
    ) {
        var random = EngineRandom(seed: 99)
        let output = run(input)
        let weights = Tensor(shape: output.shape, values: (0..<output.count).map { _ in random.uniform(-1, 1) })
        func loss() -> Double {
            let y = run(input)
            var total: Double = 0
            for i in 0..<y.count { total += Double(y.data[i]) * Double(weights.data[i]) }
            return total
        }
        store?.zeroGradients()
        _ = run(input)
        let analyticInput = backward(weights).values
        let analyticParameters = store.map { Array(UnsafeBufferPointer(start: $0.gradients, count: $0.count)) } ?? []

        func numeric(_ pointer: UnsafeMutablePointer<Float>) -> Double {
            let saved = pointer.pointee
            pointer.pointee = saved + step
            let plus = loss()
            pointer.pointee = saved - step
            let minus = loss()
            pointer.pointee = saved
            return (plus - minus) / Double(2 * step)
        }
        var largest: Double = 0
        func compare(_ analytic: Float, _ numeric: Double, _ what: String) {
            let difference = abs(Double(analytic) - numeric)
            largest = max(largest, difference)
            #expect(difference <= 3e-3 + 1e-2 * abs(numeric), "\(label) \(what): analytic \(analytic), numeric \(numeric)")
        }
        for _ in 0..<samples {
            let index = Int(random.nextUInt64() % UInt64(input.count))
            compare(analyticInput[index], numeric(input.data + index), "input[\(index)]")
        }
        if let store {
            for parameter in store.parameters {
                for _ in 0..<min(samples, parameter.count) {
                    let index = Int(random.nextUInt64() % UInt64(parameter.count))
                    compare(
                        analyticParameters[parameter.offset + index], numeric(store.value(parameter) + index),
                        "\(parameter.name)[\(index)]")
                }
            }
        }
        print("gradient check \(label): largest difference \(largest)")
    }

    /// A random tensor away from 0, so that (leaky) ReLU kinks are not crossed by the step.
    public static func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var random = EngineRandom(seed: seed)
        let count = shape.reduce(1, *)
        return Tensor(
            shape: shape,
            values: (0..<count).map { _ in
                let v = random.uniform(0.1, 1)
                return random.uniform() < 0.5 ? -v : v
            })
    }
}
