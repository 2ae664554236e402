@_exported import CDCMTKBridge

/// An opened DICOM file. Owns the DCMTK handle and frees it in `deinit`.
///
/// Opening parses the dataset but leaves values over 4 KiB (pixel data) on
/// disk; frames are decoded one at a time. Not safe to share between threads:
/// open the file once per thread instead.
public final class DicomFile {
    private let handle: OpaquePointer
    /// The path the file was opened from.
    public let path: String

    /// Parses `path`. Throws `DicomError` naming the file when it is not
    /// readable DICOM or nests sequences deeper than the limit.
    public init(path: String) throws {
        initializeDCMTK()
        let (opened, message) = withErrorBuffer { ms_dicom_open(path, $0, $1) }
        guard let opened else { throw DicomError(message, path: path) }
        handle = opened
        self.path = path
    }

    /// A new, empty dataset, to be written to `destination` by `save`.
    public init(newDatasetFor destination: String) {
        initializeDCMTK()
        handle = ms_dicom_create()
        path = destination
    }

    /// Takes ownership of a dataset the bridge made, to be saved at `destination`.
    init(handle: OpaquePointer, destination: String) {
        self.handle = handle
        path = destination
    }

    deinit {
        ms_dicom_close(handle)
    }

    /// The value of `tag` as text (multiple values separated by `\`), with
    /// DICOM's padding spaces removed; nil when the attribute is absent.
    public func string(_ tag: DicomTag) -> String? {
        readString { ms_dicom_get_string(handle, tag.group, tag.element, $0, $1) }
    }

    /// The value of the attribute at `attributePath` (inside sequence items
    /// too), as `string(_:)` gives it; nil when the path leads nowhere.
    public func string(at attributePath: DicomPath) -> String? {
        readString { ms_dicom_get_path_string(handle, attributePath.description, $0, $1) }
    }

    /// The number of items of the sequence at `sequencePath`, or nil when
    /// there is no sequence there.
    public func itemCount(at sequencePath: DicomPath) -> Int? {
        let count = ms_dicom_count_items(handle, sequencePath.description)
        return count < 0 ? nil : count
    }

    /// Calls `read(buffer, capacity)`, which returns the value's full length
    /// or -1, with a buffer grown until the value fits.
    private func readString(_ read: (UnsafeMutablePointer<CChar>, Int) -> Int) -> String? {
        var capacity = 256
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let length = buffer.withUnsafeMutableBufferPointer { read($0.baseAddress!, capacity) }
            if length < 0 { return nil }
            if length < capacity {
                let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                return text.trimmingTrailingPadding()
            }
            capacity = length + 1
        }
    }

    /// The first value of `tag` as an integer; nil when absent or not a number.
    public func integer(_ tag: DicomTag) -> Int? {
        string(tag).flatMap(Self.firstInteger)
    }

    /// The first value of the attribute at `attributePath` as an integer, as `integer(_:)`.
    public func integer(at attributePath: DicomPath) -> Int? {
        string(at: attributePath).flatMap(Self.firstInteger)
    }

    private static func firstInteger(of text: String) -> Int? {
        let first = text.split(separator: "\\", omittingEmptySubsequences: false).first ?? ""
        return Int(String(first).trimmingTrailingPadding())
    }

    /// The transfer syntax UID and DCMTK's name for it.
    public var transferSyntax: (uid: String, name: String) {
        var uid = [CChar](repeating: 0, count: 128)
        var name = [CChar](repeating: 0, count: 256)
        ms_dicom_transfer_syntax(handle, &uid, uid.count, &name, name.count)
        return (
            uid.withUnsafeBufferPointer { String(cString: $0.baseAddress!) },
            name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        )
    }

    /// Why frames cannot be decoded here, or nil when they can.
    public var undecodableReason: String? {
        let (decodable, reason) = withErrorBuffer { ms_dicom_is_decodable(handle, $0, $1) }
        return decodable == 1 ? nil : reason
    }

    /// Checks the image size against the limits and the pixel data present.
    /// Returns false when the file has no pixel data; throws when the pixel data
    /// is inconsistent or over the limits.
    public func validatePixelData() throws -> Bool {
        let (status, reason) = withErrorBuffer { ms_dicom_check_pixel_data(handle, $0, $1) }
        switch status {
        case 0: return true
        case 1: return false
        default: throw DicomError(reason, path: path)
        }
    }

    /// Decodes every frame (and discards it), so that a file accepted as
    /// decodable is decodable. Returns nil when every frame decodes, or why
    /// DCMTK renders no image of this kind (32-bit colour); throws naming the
    /// first frame that does not decode.
    public func verifyFrames() throws -> String? {
        let (status, reason) = withErrorBuffer { ms_dicom_verify_frames(handle, $0, $1) }
        switch status {
        case 0: return nil
        case 1: throw DicomError("no pixel data", path: path)
        case 2: return reason
        default: throw DicomError(reason, path: path)
        }
    }

    /// Rows, columns and frames as the file states them.
    public var geometry: FrameGeometry {
        FrameGeometry(
            rows: integer(.rows) ?? 0, columns: integer(.columns) ?? 0,
            frames: integer(.numberOfFrames) ?? 1)
    }

    /// Frame `index` (0-based) as 8-bit grayscale for training; see
    /// `ms_dicom_decode_frame_gray8` for the conversion of each photometric
    /// interpretation.
    public func grayFrame(_ index: Int) throws -> Frame {
        let size = geometry
        try checkFrameIndex(index, of: size)
        var pixels = [UInt8](repeating: 0, count: size.rows * size.columns)
        let (status, message) = withErrorBuffer { error, capacity in
            ms_dicom_decode_frame_gray8(handle, UInt(index), &pixels, pixels.count, error, capacity)
        }
        guard status == 0 else { throw DicomError("cannot decode frame \(index) (\(message))", path: path) }
        return Frame(width: size.columns, height: size.rows, channels: 1, pixels: pixels)
    }

    /// Frame `index` as stored sample values, before any rescale, window or
    /// colour conversion (colour samples interleaved, RGB where the decoder
    /// converts YCbCr); see `ms_dicom_decode_frame_samples` for what is refused.
    /// Tests compare decoders with it: a lossless file's samples equal its
    /// uncompressed twin's.
    public func storedSamples(ofFrame index: Int) throws -> [Int32] {
        let size = geometry
        try checkFrameIndex(index, of: size)
        var samples = [Int32](repeating: 0, count: size.rows * size.columns * max(1, integer(.samplesPerPixel) ?? 1))
        let (status, message) = withErrorBuffer { error, capacity in
            ms_dicom_decode_frame_samples(handle, UInt(index), &samples, samples.count, error, capacity)
        }
        guard status == 0 else { throw DicomError("cannot decode frame \(index) (\(message))", path: path) }
        return samples
    }

    /// Frame `index` as a person would see it: grayscale through the file's
    /// window, colour as RGB.
    public func displayFrame(_ index: Int) throws -> Frame {
        let size = geometry
        try checkFrameIndex(index, of: size)
        var pixels = [UInt8](repeating: 0, count: size.rows * size.columns * 3)
        var channels: Int32 = 0
        let (status, message) = withErrorBuffer { error, capacity in
            ms_dicom_decode_frame_display(handle, UInt(index), &pixels, pixels.count, &channels, error, capacity)
        }
        guard status == 0 else { throw DicomError("cannot decode frame \(index) (\(message))", path: path) }
        pixels.removeLast(pixels.count - size.rows * size.columns * Int(channels))
        return Frame(width: size.columns, height: size.rows, channels: Int(channels), pixels: pixels)
    }

    /// Sets `tag` to `value` in the dataset (in memory; `save` writes it).
    /// `vr` is needed only for attributes newer than DCMTK's dictionary.
    public func setString(_ tag: DicomTag, _ value: String, vr: String? = nil) throws {
        let (status, message) = withErrorBuffer { error, capacity in
            if let vr {
                return ms_dicom_set_string(handle, tag.group, tag.element, vr, value, error, capacity)
            }
            return ms_dicom_set_string(handle, tag.group, tag.element, nil, value, error, capacity)
        }
        guard status == 0 else { throw DicomError(message, path: path) }
    }

    /// Sets the attribute at `attributePath` (DCMTK's path syntax, such as
    /// `(0018,A001)[0].(0008,0070)`), creating sequences and items as needed.
    public func setString(atPath attributePath: String, _ value: String) throws {
        let (status, message) = withErrorBuffer { ms_dicom_set_path_string(handle, attributePath, value, $0, $1) }
        guard status == 0 else { throw DicomError(message, path: path) }
    }

    /// Sets Pixel Data to native 8-bit samples, frame after frame.
    public func setPixelData(bytes: [UInt8]) throws {
        let (status, message) = withErrorBuffer { ms_dicom_set_pixel_data_8bit(handle, bytes, bytes.count, $0, $1) }
        guard status == 0 else { throw DicomError(message, path: path) }
    }

    /// Writes the dataset as a Part 10 file at `destination`, in the
    /// transfer syntax it was read in (Explicit VR Little Endian for a new one).
    public func save(to destination: String) throws {
        let (status, message) = withErrorBuffer { ms_dicom_save(handle, destination, $0, $1) }
        guard status == 0 else { throw DicomError(message, path: destination) }
    }

    /// Validates the limits before the frame buffer is allocated.
    private func checkFrameIndex(_ index: Int, of size: FrameGeometry) throws {
        guard try validatePixelData() else { throw DicomError("no pixel data", path: path) }
        guard index >= 0, index < size.frames else {
            throw DicomError("frame \(index) out of range (the file has \(size.frames) frames)", path: path)
        }
    }
}

/// The size of an image as its attributes state it.
public struct FrameGeometry: Equatable, Sendable {
    public var rows: Int
    public var columns: Int
    public var frames: Int
}

/// One decoded frame: `height` rows of `width` pixels of `channels`
/// interleaved 8-bit samples.
public struct Frame: Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "pixel count does not match the frame size")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

extension String {
    /// DICOM pads values to even length with a space (or NUL for UIDs).
    func trimmingTrailingPadding() -> String {
        var text = Substring(self)
        while let last = text.last, last == " " || last == "\0" { text = text.dropLast() }
        while let first = text.first, first == " " { text = text.dropFirst() }
        return String(text)
    }
}
