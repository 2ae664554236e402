import Foundation

/// A file of tensors could not be read or written.
public struct TensorFileError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let path: String
    public init(_ reason: String, path: String) {
        self.reason = reason
        self.path = path
    }
    public var description: String { "\(reason): \(path)" }
}

/// A named float32 array, row-major.
public struct NamedArray: Sendable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }
}

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian
/// header length, a JSON header naming each tensor's dtype, shape and byte
/// range, then the raw little-endian data. Only F32 tensors are read; others
/// (PyTorch's int64 `num_batches_tracked`) are listed as skipped.
public enum SafeTensors {
    public static func write(_ tensors: [(name: String, array: NamedArray)], metadata: [String: String] = [:], to path: String) throws {
        let data = try encode(tensors, metadata: metadata)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TensorFileError("cannot write safetensors (\(error.localizedDescription))", path: path)
        }
    }

    /// The bytes of a safetensors file holding `tensors`.
    public static func encode(_ tensors: [(name: String, array: NamedArray)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, array) in tensors {
            let bytes = array.values.count * 4
            header[name] = ["dtype": "F32", "shape": array.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var data = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for (_, array) in tensors {
            array.values.withUnsafeBufferPointer {
                data.append(
                    UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4))
            }
        }
        return data
    }

    /// Reads every F32 tensor; `metadata` is the header's `__metadata__`.
    public static func read(path: String) throws -> (tensors: [String: NamedArray], metadata: [String: String], skipped: [String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TensorFileError("cannot read safetensors file", path: path)
        }
        return try read(data: data, path: path)
    }

    /// Reads the tensors of a safetensors file already in memory; `path` names it in errors.
    public static func read(data: Data, path: String) throws -> (
        tensors: [String: NamedArray], metadata: [String: String], skipped: [String]
    ) {
        guard data.count >= 8 else { throw TensorFileError("not a safetensors file (too short)", path: path) }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else {
            throw TensorFileError("not a safetensors file (header length \(headerLength))", path: path)
        }
        let start = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<start)) as? [String: Any] else {
            throw TensorFileError("not a safetensors file (header is not JSON)", path: path)
        }
        var tensors: [String: NamedArray] = [:]
        var skipped: [String] = []
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw TensorFileError("malformed entry for tensor \(name)", path: path)
            }
            guard dtype == "F32" else {
                skipped.append(name)
                continue
            }
            guard let count = elementCount(shape), offsets[0] >= 0, offsets[1] - offsets[0] == count * 4, start + offsets[1] <= data.count
            else {
                throw TensorFileError("tensor \(name) of shape \(shape) has byte range \(offsets), outside the file", path: path)
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { target in
                data.copyBytes(to: target.bindMemory(to: UInt8.self), from: (start + offsets[0])..<(start + offsets[1]))
            }
            tensors[name] = NamedArray(shape: shape, values: values.map { Float(bitPattern: $0.bitPattern.littleEndian) })
        }
        return (tensors, metadata, skipped.sorted())
    }
}

/// The number of values of `shape`, or nil when a dimension is negative or
/// the bytes would overflow (a corrupt or hostile header).
func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow, product <= Int.max / 4 else { return nil }
        count = product
    }
    return count
}

/// NumPy's `.npy` format, version 1.0, float32 little-endian, C order.
public enum NumpyFile {
    public static func write(_ array: NamedArray, to path: String) throws {
        let shape = array.shape.count == 1 ? "(\(array.shape[0]),)" : "(" + array.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(Data(header.utf8))
        array.values.withUnsafeBytes { data.append(contentsOf: $0) }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TensorFileError("cannot write .npy (\(error.localizedDescription))", path: path)
        }
    }

    public static func read(path: String) throws -> NamedArray {
        guard let data = FileManager.default.contents(atPath: path) else { throw TensorFileError("cannot read .npy file", path: path) }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw TensorFileError("not a .npy file", path: path)
        }
        let major = bytes[6]
        let headerStart = major == 1 ? 10 : 12
        guard bytes.count >= headerStart else { throw TensorFileError("truncated .npy header", path: path) }
        let headerLength =
            major == 1
            ? Int(bytes[8]) | Int(bytes[9]) << 8
            : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        guard headerStart + headerLength <= bytes.count else { throw TensorFileError("truncated .npy header", path: path) }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f4'") else {
            throw TensorFileError(
                "only float32 little-endian .npy files are supported (header \(header.trimmingCharacters(in: .whitespacesAndNewlines)))",
                path: path)
        }
        guard header.contains("'fortran_order': False") else { throw TensorFileError("Fortran-ordered .npy is not supported", path: path) }
        guard let open = header.firstIndex(of: "("), let close = header.firstIndex(of: ")") else {
            throw TensorFileError("no shape in .npy header", path: path)
        }
        let shape = header[header.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        let start = headerStart + headerLength
        guard let count = elementCount(shape) else { throw TensorFileError(".npy shape \(shape) is impossible", path: path) }
        guard bytes.count - start == count * 4 else {
            throw TensorFileError(".npy data holds \(bytes.count - start) bytes, shape \(shape) needs \(count * 4)", path: path)
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { target in data.copyBytes(to: target.bindMemory(to: UInt8.self), from: start..<bytes.count) }
        return NamedArray(shape: shape, values: values)
    }
}

extension ParameterStore {
    /// Parameters and buffers by name, as a checkpoint holds them.
    public func namedArrays() -> [(name: String, array: NamedArray)] {
        parameters.map { ($0.name, NamedArray(shape: $0.shape, values: Array(UnsafeBufferPointer(start: value($0), count: $0.count)))) }
            + buffers.map { ($0.name, NamedArray(shape: $0.tensor.shape, values: $0.tensor.values)) }
    }

    /// Loads every parameter and buffer from `arrays`; an error names what is
    /// missing or of the wrong shape. Extra arrays are returned.
    @discardableResult
    public func load(_ arrays: [String: NamedArray], source: String) throws -> [String] {
        var problems: [String] = []
        for parameter in parameters {
            guard let array = arrays[parameter.name] else {
                problems.append("missing \(parameter.name)")
                continue
            }
            guard array.shape == parameter.shape else {
                problems.append("\(parameter.name) has shape \(array.shape), expected \(parameter.shape)")
                continue
            }
            array.values.withUnsafeBufferPointer { value(parameter).update(from: $0.baseAddress!, count: parameter.count) }
        }
        for (name, tensor) in buffers {
            guard let array = arrays[name] else {
                problems.append("missing \(name)")
                continue
            }
            guard array.shape == tensor.shape else {
                problems.append("\(name) has shape \(array.shape), expected \(tensor.shape)")
                continue
            }
            array.values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
        }
        guard problems.isEmpty else {
            throw TensorFileError(
                "checkpoint does not fit the model: " + problems.prefix(8).joined(separator: "; ")
                    + (problems.count > 8 ? "; and \(problems.count - 8) more" : ""), path: source)
        }
        let known = Set(parameters.map(\.name) + buffers.map(\.name))
        return arrays.keys.filter { !known.contains($0) }.sorted()
    }
}
