import Foundation

/// Adam with PyTorch's semantics (bias correction on, eps added after the
/// bias-corrected square root), over a store's flat parameter and gradient
/// buffers: one loop.
public final class Adam {
    public let learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public private(set) var step = 0
    let store: ParameterStore
    /// First and second moment estimates, matching the store's flat buffer.
    public let firstMoment: Tensor
    public let secondMoment: Tensor

    public init(store: ParameterStore, learningRate: Float = 2e-4, beta1: Float = 0.5, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.store = store
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        firstMoment = Tensor(shape: [store.count])
        secondMoment = Tensor(shape: [store.count])
    }

    /// Restores the step count saved with a checkpoint (the moments are restored by copying into the tensors).
    public func restore(step: Int) { self.step = step }

    /// Applies one update with the current gradients.
    public func update() {
        step += 1
        let correction1 = 1 - pow(beta1, Float(step))
        let correction2Root = (1 - pow(beta2, Float(step))).squareRoot()
        let stepSize = learningRate / correction1
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let p: UnsafeMutablePointer<Float> = store.values, g: UnsafeMutablePointer<Float> = store.gradients, m = firstMoment.data,
            v = secondMoment.data
        parallelChunks(store.count) { range in
            for i in range {
                let gradient = g[i]
                m[i] = b1 * m[i] + (1 - b1) * gradient
                v[i] = b2 * v[i] + (1 - b2) * gradient * gradient
                let denominator = v[i].squareRoot() / correction2Root + eps
                p[i] -= stepSize * m[i] / denominator
            }
        }
    }
}
