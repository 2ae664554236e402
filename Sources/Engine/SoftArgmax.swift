import Foundation

/// Soft-argmax over each heatmap (integral regression, Sun et al. 2018,
/// "Integral Human Pose Regression"): [N, K, H, W] logits -> [N, K, 2], the
/// expected (x, y) under the softmax of each map, in pixels with (0, 0) the
/// centre of the top-left pixel. Differentiable, unlike the argmax, so a
/// keypoint network learns its coordinates directly; the medsynth utility
/// measure's task model decodes its heatmaps with it (docs/evaluation.md).
///
/// Backward: with p the softmax of a map and (x, y) its expectation,
/// dL/dz_ij = p_ij ((j - x) dL/dx + (i - y) dL/dy).
public final class SoftArgmax2d: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    /// The softmax of each map, kept for backward: [N, K, H, W].
    private var probabilities: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func forward(_ logits: Tensor, training: Bool) -> Tensor {
        let (n, k, h, w) = logits.nchw
        let plane = h * w
        let p = reuseTensor(&probabilities, logits.shape)
        let y = reuseTensor(&output, [n, k, 2])
        for map in 0..<(n * k) {
            let z = logits.data + map * plane, q = p.data + map * plane
            var largest = -Float.infinity
            for index in 0..<plane { largest = max(largest, z[index]) }
            var total: Double = 0
            for index in 0..<plane {
                q[index] = exp(z[index] - largest)
                total += Double(q[index])
            }
            var x: Double = 0, yCoordinate: Double = 0
            let scale = Float(1 / total)
            for row in 0..<h {
                for column in 0..<w {
                    let index = row * w + column
                    q[index] *= scale
                    x += Double(q[index]) * Double(column)
                    yCoordinate += Double(q[index]) * Double(row)
                }
            }
            y.data[2 * map] = Float(x)
            y.data[2 * map + 1] = Float(yCoordinate)
        }
        return y
    }

    public func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        let p = kept(probabilities, by: "SoftArgmax2d")
        let (n, k, h, w) = p.nchw
        let plane = h * w
        let dz = reuseTensor(&inputGradient, p.shape)
        let coordinates = kept(output, by: "SoftArgmax2d")
        for map in 0..<(n * k) {
            let q = p.data + map * plane, d = dz.data + map * plane
            let x = coordinates.data[2 * map], y = coordinates.data[2 * map + 1]
            let dx = outputGradient.data[2 * map], dy = outputGradient.data[2 * map + 1]
            for row in 0..<h {
                for column in 0..<w {
                    let index = row * w + column
                    d[index] = q[index] * ((Float(column) - x) * dx + (Float(row) - y) * dy)
                }
            }
        }
        return dz
    }
}
