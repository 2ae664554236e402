import CHDF5
import Engine

/// A weights-only HDF5 file as Keras 2 wrote it (`model.save_weights("x.h5")`,
/// and Keras Applications' `*_notop.h5` downloads): a `layer_names`
/// attribute on the root, one group per layer with a `weight_names`
/// attribute, and one dataset per weight at `/<layer>/<weight name>`.
/// Owns the libhdf5 handle and closes it in `deinit`.
public final class KerasWeightFile {
    private let handle: OpaquePointer
    public let path: String
    /// Float values read so far, against `valueLimit` (a file of many
    /// datasets, each within the limit, is bounded too).
    private var valuesRead = 0
    /// The most float values this file may hold: `maximumValues` unless a caller asks for less.
    public let valueLimit: Int

    /// The most float values one file may hold (256 MB), checked against each
    /// dataset's declared shape before anything is allocated. Xception, the
    /// largest backbone, has 20.9 million.
    public static let maximumValues = 1 << 26

    public init(path: String, valueLimit: Int = KerasWeightFile.maximumValues) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard let opened = ms_h5_open(path, &error, error.count) else {
            throw TensorFileError(error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path)
        }
        handle = opened
        self.path = path
        self.valueLimit = valueLimit
    }

    deinit { ms_h5_close(handle) }

    /// The layers in model order.
    public func layerNames() throws -> [String] {
        guard let names = strings(at: "/", attribute: "layer_names") else {
            throw TensorFileError(
                "no layer_names attribute: not a Keras 2 weights file (Keras 3's .weights.h5 is another layout)", path: path)
        }
        return names
    }

    /// The weight names of `layer` ("Conv1/kernel:0", ...), empty for a layer without weights.
    public func weightNames(layer: String) -> [String] {
        strings(at: "/\(layer)", attribute: "weight_names") ?? []
    }

    /// One weight as stored (Keras layout, e.g. [kh, kw, in, out] for a kernel).
    public func array(layer: String, weight: String) throws -> NamedArray {
        let datasetPath = "/\(layer)/\(weight)"
        var dims = [Int64](repeating: 0, count: 8)
        let rank = Int(ms_h5_dataset_shape(handle, datasetPath, &dims, 8))
        guard rank != -2 else { throw TensorFileError("\(datasetPath) has more than \(dims.count) dimensions", path: path) }
        guard rank >= 0 else { throw TensorFileError("no dataset \(datasetPath)", path: path) }
        let shape = dims.prefix(rank).map(Int.init)
        var count = 1
        for size in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard size >= 0, !overflow, product <= valueLimit else {
                throw TensorFileError(
                    "\(datasetPath) declares shape \(shape), more than the \(valueLimit) values this weight file may hold",
                    path: path)
            }
            count = product
        }
        guard count <= valueLimit - valuesRead else {
            throw TensorFileError("\(datasetPath) takes the file's weights past the \(valueLimit) values it may hold", path: path)
        }
        var values = [Float](repeating: 0, count: count)
        var error = [CChar](repeating: 0, count: 512)
        guard ms_h5_read_floats(handle, datasetPath, &values, values.count, &error, error.count) == 0 else {
            throw TensorFileError("\(datasetPath): " + error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path)
        }
        valuesRead += count
        return NamedArray(shape: shape, values: values)
    }

    private func strings(at objectPath: String, attribute: String) -> [String]? {
        var capacity = 4096
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let length = ms_h5_string_attribute(handle, objectPath, attribute, &buffer, capacity)
            // Over 16 MB of names is refused, as the C side refuses such an attribute.
            if length < 0 || length >= 16 << 20 { return nil }
            if length < capacity {
                let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                return text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            }
            capacity = length + 1
        }
    }

    /// Every weight of the file under the engine's names and layouts:
    /// `<layer>.weight` ([out, in, kh, kw] from a [kh, kw, in, out] kernel;
    /// [in, 1, kh, kw] from a depthwise kernel), `<layer>.depthwise.weight`
    /// and `<layer>.pointwise.weight` for a separable convolution,
    /// `<layer>.bias`, and BatchNorm's `<layer>.weight`, `.bias`,
    /// `.running_mean`, `.running_var`. `rename` maps a file's layer name
    /// to the engine's (Keras numbers unnamed layers per session).
    public func engineArrays(rename: (String) -> String = { $0 }) throws -> [String: NamedArray] {
        var result: [String: NamedArray] = [:]
        for layer in try layerNames() {
            let names = weightNames(layer: layer)
            let separable = names.contains { $0.hasSuffix("pointwise_kernel:0") }
            for weight in names {
                let short = String(weight.split(separator: "/").last ?? "").replacingOccurrences(of: ":0", with: "")
                let array = try self.array(layer: layer, weight: weight)
                let target = rename(layer)
                switch short {
                case "kernel", "pointwise_kernel":
                    guard array.shape.count == 4 else { throw TensorFileError("\(layer)/\(short) is not 4-D: \(array.shape)", path: path) }
                    result[separable ? "\(target).pointwise.weight" : "\(target).weight"] = Self.convolutionLayout(array)
                case "depthwise_kernel":
                    guard array.shape.count == 4, array.shape[3] == 1 else {
                        throw TensorFileError("\(layer)/depthwise_kernel must be [kh, kw, in, 1], is \(array.shape)", path: path)
                    }
                    result[separable ? "\(target).depthwise.weight" : "\(target).weight"] = Self.depthwiseLayout(array)
                case "bias", "beta": result["\(target).bias"] = array
                case "gamma": result["\(target).weight"] = array
                case "moving_mean": result["\(target).running_mean"] = array
                case "moving_variance": result["\(target).running_var"] = array
                default: throw TensorFileError("unknown weight \(weight) of layer \(layer)", path: path)
                }
            }
        }
        return result
    }

    /// [kh, kw, in, out] -> [out, in, kh, kw].
    static func convolutionLayout(_ array: NamedArray) -> NamedArray {
        let (kh, kw, input, output) = (array.shape[0], array.shape[1], array.shape[2], array.shape[3])
        var values = [Float](repeating: 0, count: array.values.count)
        for i in 0..<kh {
            for j in 0..<kw {
                for c in 0..<input {
                    for o in 0..<output {
                        values[((o * input + c) * kh + i) * kw + j] = array.values[((i * kw + j) * input + c) * output + o]
                    }
                }
            }
        }
        return NamedArray(shape: [output, input, kh, kw], values: values)
    }

    /// [kh, kw, in, 1] -> [in, 1, kh, kw].
    static func depthwiseLayout(_ array: NamedArray) -> NamedArray {
        let (kh, kw, input) = (array.shape[0], array.shape[1], array.shape[2])
        var values = [Float](repeating: 0, count: array.values.count)
        for i in 0..<kh {
            for j in 0..<kw {
                for c in 0..<input {
                    values[(c * kh + i) * kw + j] = array.values[(i * kw + j) * input + c]
                }
            }
        }
        return NamedArray(shape: [input, 1, kh, kw], values: values)
    }
}
