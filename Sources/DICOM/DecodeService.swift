import Foundation

/// One request to the decode worker, one JSON line on its standard input.
public struct DecodeRequest: Codable, Sendable {
    /// The file to read.
    public let path: String
    /// Asks for the dataset's digest instead of the metadata and decoding.
    public var datasetDigest: Bool?

    public init(path: String, datasetDigest: Bool? = nil) {
        self.path = path
        self.datasetDigest = datasetDigest
    }
}

/// The decode worker's answer to one request, one JSON line on its standard output.
public struct DecodeReply: Codable, Sendable {
    public var metadata: InstanceMetadata?
    public var datasetSHA256: String?
    public var rejection: String?

    public init(metadata: InstanceMetadata? = nil, datasetSHA256: String? = nil, rejection: String? = nil) {
        self.metadata = metadata
        self.datasetSHA256 = datasetSHA256
        self.rejection = rejection
    }
}

/// The decode worker's side of its pipe protocol: the whole program of
/// `medsynth-decode-worker`, the child process in which untrusted files are
/// parsed and decoded (the import's `DecodeWorker` starts and supervises it).
public enum DecodeService {
    /// Answers each request line read from standard input until it closes.
    /// DCMTK's warnings stay quiet here, as they do in import without --verbose.
    public static func serve() {
        ConsoleLogHandler.bootstrap(verbose: false)
        let decoder = JSONDecoder(), encoder = JSONEncoder()
        while let line = Swift.readLine(strippingNewline: true) {
            let reply =
                (try? decoder.decode(DecodeRequest.self, from: Data(line.utf8))).map(answer)
                ?? DecodeReply(rejection: "unreadable request")
            var text = (try? encoder.encode(reply)) ?? Data(#"{"rejection":"unencodable reply"}"#.utf8)
            text.append(UInt8(ascii: "\n"))
            FileHandle.standardOutput.write(text)
        }
    }

    /// What the worker answers to one request.
    public static func answer(_ request: DecodeRequest) -> DecodeReply {
        var reply = DecodeReply()
        do {
            if request.datasetDigest == true {
                reply.datasetSHA256 = try FileDigest.datasetSHA256(path: request.path)
            } else {
                reply.metadata = try InstanceMetadata(file: try DicomFile(path: request.path))
            }
        } catch let error as DicomError {
            reply.rejection = error.reason
        } catch {
            reply.rejection = "\(error)"
        }
        return reply
    }
}
