import CHDF5
import Engine

/// The weights of an HDF5 file as Keras writes them, in either layout:
/// - `layer_names` on the root, one group per layer with a `weight_names`
///   attribute, one dataset per weight at `/<layer>/<weight name>`: Keras 2's
///   `save_weights("x.h5")` and Keras Applications' `*_notop.h5` downloads
///   (names end in ":0"); the same under `/model_weights` in a whole model
///   saved as `.h5`, which Keras 3 writes without ":0" and with a depthwise
///   kernel named `kernel`;
/// - Keras 3's `.weights.h5`: `/layers/<object>/vars/<i>`, the object named
///   after the layer's class (`conv2d_3`, `batch_normalization`, ...), the
///   layer's own name in the `name` attribute of `vars`, the variables in
///   the class's order.
///
/// Owns the libhdf5 handle and closes it in `deinit`.
public final class KerasWeightFile {
    /// One weight of a layer: what it is (`kernel`, `depthwise_kernel`,
    /// `pointwise_kernel`, `bias`, `gamma`, `beta`, `moving_mean`,
    /// `moving_variance`) and where it is stored.
    public struct Weight: Sendable {
        public let kind: String
        public let datasetPath: String
    }

    private let handle: OpaquePointer
    public let path: String
    /// Every layer with its weights: in model order in the `layer_names`
    /// layout; in Keras 3's, in model order within each class of layer
    /// (the objects are numbered so), classes by name.
    public private(set) var layers: [(name: String, weights: [Weight])] = []
    /// A whole model saved as `.h5` (its layers under `/model_weights`),
    /// which may hold layers of its own beside a backbone's: a
    /// transfer-learning model with its classification head.
    public private(set) var isWholeModel = false
    /// Float values read so far, against `valueLimit` (a file of many
    /// datasets, each within the limit, is bounded too).
    private var valuesRead = 0
    /// The most float values this file may hold: `maximumValues` unless a caller asks for less.
    public let valueLimit: Int

    /// The most float values one file may hold (256 MB), checked against each
    /// dataset's declared shape before anything is allocated. Xception, the
    /// largest backbone, has 20.9 million.
    public static let maximumValues = 1 << 26

    /// The variables of the layer classes Keras 3 saves, in its order.
    static let keras3Variables = [
        "conv2d": ["kernel", "bias"], "depthwise_conv2d": ["depthwise_kernel", "bias"],
        "separable_conv2d": ["depthwise_kernel", "pointwise_kernel", "bias"],
        "batch_normalization": ["gamma", "beta", "moving_mean", "moving_variance"],
    ]

    /// Opens the file and reads its layer table; throws when it is not HDF5
    /// or in neither layout.
    public init(path: String, valueLimit: Int = KerasWeightFile.maximumValues) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard let opened = ms_h5_open(path, &error, error.count) else {
            throw TensorFileError(error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path)
        }
        handle = opened
        self.path = path
        self.valueLimit = valueLimit
        if let (root, names) = layerNameList() {
            isWholeModel = root == "/model_weights"
            layers = names.map { layer in
                let weights = weightNames(group: "\(root)/\(layer)").map { name in
                    Weight(
                        kind: String(name.split(separator: "/").last ?? "").replacingOccurrences(of: ":0", with: ""),
                        datasetPath: "\(root)/\(layer)/\(name)")
                }
                return (layer, weights)
            }
        } else if let objects = members(of: "/layers") {
            layers = try keras3Layers(objects)
        } else {
            throw TensorFileError(
                "neither a layer_names attribute (Keras 2) nor a layers group (Keras 3's .weights.h5): not a Keras weights file",
                path: path)
        }
    }

    deinit { ms_h5_close(handle) }

    /// The layers in the order of `layers`.
    public var layerNames: [String] { layers.map(\.name) }

    /// `layer_names` on the root, or on `/model_weights` of a whole model
    /// saved as `.h5`: the path of the layers' groups and the names.
    private func layerNameList() -> (root: String, names: [String])? {
        if let names = strings(at: "/", attribute: "layer_names") { return ("", names) }
        return strings(at: "/model_weights", attribute: "layer_names").map { ("/model_weights", $0) }
    }

    /// The `weight_names` of the layer group at `group` ("/Conv1") in the
    /// `layer_names` layout ("Conv1/kernel:0", ...), empty for a layer without weights.
    func weightNames(group: String) -> [String] {
        strings(at: group, attribute: "weight_names") ?? []
    }

    /// The weight of `kind` of `layer`.
    public func array(layer: String, kind: String) throws -> NamedArray {
        guard let weight = layers.first(where: { $0.name == layer })?.weights.first(where: { $0.kind == kind }) else {
            throw TensorFileError("no \(kind) of layer \(layer)", path: path)
        }
        return try array(at: weight.datasetPath)
    }

    /// Keras 3's objects under `/layers`, ordered by class and number, as layers.
    private func keras3Layers(_ objects: [String]) throws -> [(name: String, weights: [Weight])] {
        func classAndNumber(_ object: String) -> (String, Int) {
            guard let match = object.wholeMatch(of: /(.+)_(\d+)/), let number = Int(match.2) else { return (object, 0) }
            return (String(match.1), number)
        }
        var result: [(name: String, weights: [Weight])] = []
        for object in objects.sorted(by: { classAndNumber($0) < classAndNumber($1) }) {
            let group = "/layers/\(object)"
            guard let children = members(of: group), Set(children).isSubset(of: ["vars"]) else {
                throw TensorFileError("\(group) holds more than its variables (a nested model is not read)", path: path)
            }
            let stored = members(of: "\(group)/vars") ?? []
            guard !stored.isEmpty else { continue }
            let name = strings(at: "\(group)/vars", attribute: "name")?.first ?? object
            let kind = classAndNumber(object).0
            guard let variables = Self.keras3Variables[kind], stored.count <= variables.count,
                kind != "batch_normalization" || stored.count == 4
            else {
                throw TensorFileError(
                    "layer \(name) (\(group)) is a \(kind) with \(stored.count) variables, which medsynth does not read", path: path)
            }
            result.append((name, (0..<stored.count).map { Weight(kind: variables[$0], datasetPath: "\(group)/vars/\($0)") }))
        }
        return result
    }

    /// One weight as stored (Keras layout, e.g. [kh, kw, in, out] for a kernel).
    func array(at datasetPath: String) throws -> NamedArray {
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
        text { buffer, capacity in ms_h5_string_attribute(handle, objectPath, attribute, buffer, capacity) }
    }

    private func members(of group: String) -> [String]? {
        text { buffer, capacity in ms_h5_group_members(handle, group, buffer, capacity) }
    }

    /// A newline-separated list the C side writes, growing the buffer
    /// until it fits; nil when absent (or over 16 MB, which the C side
    /// refuses too).
    private func text(_ read: (UnsafeMutablePointer<CChar>, Int) -> Int) -> [String]? {
        var capacity = 4096
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let length = buffer.withUnsafeMutableBufferPointer { read($0.baseAddress!, capacity) }
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
    /// `expectedShape` gives the engine's shape of a weight: Keras 3's
    /// legacy layout names a depthwise kernel `kernel`, as a convolution's,
    /// and only the network it is for tells the two apart. A layer whose
    /// engine name `readsLayer` refuses is not read at all.
    public func engineArrays(
        rename: (String) -> String = { $0 }, expectedShape: (String) -> [Int]? = { _ in nil },
        readsLayer: (String) -> Bool = { _ in true }
    ) throws -> [String: NamedArray] {
        var result: [String: NamedArray] = [:]
        for (layer, weights) in layers {
            let target = rename(layer)
            guard readsLayer(target) else { continue }
            let separable = weights.contains { $0.kind == "pointwise_kernel" }
            for weight in weights {
                let array = try self.array(at: weight.datasetPath)
                let fourD = array.shape.count == 4
                switch weight.kind {
                case "kernel"
                where fourD && array.shape[3] == 1
                    && expectedShape("\(target).weight") == [array.shape[2], 1, array.shape[0], array.shape[1]],
                    "depthwise_kernel":
                    guard fourD, array.shape[3] == 1 else {
                        throw TensorFileError("\(layer)/\(weight.kind) must be [kh, kw, in, 1], is \(array.shape)", path: path)
                    }
                    result[separable ? "\(target).depthwise.weight" : "\(target).weight"] = Self.depthwiseLayout(array)
                case "kernel", "pointwise_kernel":
                    guard fourD else { throw TensorFileError("\(layer)/\(weight.kind) is not 4-D: \(array.shape)", path: path) }
                    result[separable ? "\(target).pointwise.weight" : "\(target).weight"] = Self.convolutionLayout(array)
                case "bias", "beta": result["\(target).bias"] = array
                case "gamma": result["\(target).weight"] = array
                case "moving_mean": result["\(target).running_mean"] = array
                case "moving_variance": result["\(target).running_var"] = array
                default: throw TensorFileError("unknown weight \(weight.datasetPath) of layer \(layer)", path: path)
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
