import Foundation

/// DCMTK's `storescp` (package dcmtk) on a loopback port, receiving into a
/// folder, for the network tests; `stop()` ends it.
public final class StoreSCP {
    public let port: UInt16
    public let aeTitle: String
    public let folder: URL
    private let server: PeerProcess

    /// Starts storescp with `options` (after its defaults: AE title, output
    /// folder) on a free port, and waits until it answers a C-ECHO.
    public init(aeTitle: String = "PEER", folder: URL, options: [String] = []) throws {
        self.aeTitle = aeTitle
        self.folder = folder
        let port = try Self.freePort()
        self.port = port
        server = try PeerProcess(
            "storescp", ["--aetitle", aeTitle, "--output-directory", folder.path] + options + [String(port)])
        try server.wait(for: "a C-ECHO answer", seconds: 5) {
            try ExternalProcess.run("echoscu", ["-aec", aeTitle, "127.0.0.1", String(port)]).status == 0
        }
    }

    /// `AE@127.0.0.1:PORT`, as `send --to` takes it.
    public var address: String { "\(aeTitle)@127.0.0.1:\(port)" }

    public func stop() { server.stop() }

    /// A loopback port nothing listens on now: the kernel's choice for a socket bound to port 0.
    public static func freePort() throws -> UInt16 {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return UInt16(bigEndian: address.sin_port)
    }
}

/// A plain TCP connection to a loopback port that sends nothing: what a port
/// scan or a load balancer's health check looks like to a DICOM listener.
public final class SilentConnection {
    private let socket: Int32

    public init(port: UInt16) throws {
        // The descriptor is the instance's only once connected: a class whose
        // initializer throws after its properties are set is deinitialised, so
        // closing it here and in deinit would close a number another thread may
        // have been given meanwhile.
        let descriptor = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(descriptor)
            throw POSIXError(.ECONNREFUSED)
        }
        socket = descriptor
    }

    deinit { close(socket) }

    /// Whether the other end closes the connection within `seconds`.
    public func closedByPeer(within seconds: Double) -> Bool {
        var waits = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&waits, 1, Int32(seconds * 1000)) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, 0) <= 0
    }
}

/// Orthanc (Debian package orthanc), a real PACS, on loopback ports with a
/// temporary configuration and storage; `stop()` ends it.
public final class OrthancPeer {
    public let dicomPort: UInt16
    public let httpPort: UInt16
    public let aeTitle = "ORTHANC"
    private var server: PeerProcess?

    /// Starts Orthanc with its storage in `folder`, without plugins, and waits
    /// until its REST API answers. `modalities` are the peers it may send to,
    /// by name: (AE title, port on 127.0.0.1).
    public init(folder: URL, modalities: [String: (aeTitle: String, port: UInt16)] = [:]) throws {
        dicomPort = try StoreSCP.freePort()
        httpPort = try StoreSCP.freePort()
        let configuration: [String: Any] = [
            "Name": "medsynth-test", "StorageDirectory": folder.appendingPathComponent("storage").path,
            "IndexDirectory": folder.appendingPathComponent("storage").path, "HttpPort": Int(httpPort),
            "DicomPort": Int(dicomPort), "DicomAet": aeTitle, "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false, "Plugins": [String](),
            "DicomModalities": modalities.mapValues { [$0.aeTitle, "127.0.0.1", Int($0.port)] as [Any] },
        ]
        let file = folder.appendingPathComponent("orthanc.json")
        try JSONSerialization.data(withJSONObject: configuration).write(to: file)
        server = try PeerProcess("Orthanc", [file.path])
        try server?.wait(for: "a REST answer", seconds: 10) { (try? self.get("/system")) != nil }
    }

    /// `AE@127.0.0.1:PORT`, as `send --to` takes it.
    public var address: String { "\(aeTitle)@127.0.0.1:\(dicomPort)" }

    /// The body of a GET on Orthanc's REST API; throws unless it answers 200.
    public func get(_ path: String) throws -> Data {
        try rest(["http://127.0.0.1:\(httpPort)\(path)"])
    }

    /// The body of a POST of `body` on Orthanc's REST API.
    public func post(_ path: String, body: String) throws -> Data {
        try rest(["--data-binary", body, "http://127.0.0.1:\(httpPort)\(path)"])
    }

    private func rest(_ arguments: [String]) throws -> Data {
        let output = try ExternalProcess.run("curl", ["--silent", "--show-error", "--fail", "--max-time", "60"] + arguments)
        guard output.status == 0 else { throw ExternalProcess.Failed(command: ["curl"] + arguments, output: output) }
        return Data(output.standardOutput.utf8)
    }

    public func stop() { server?.stop() }
}

/// `medsynth listen` on a loopback port, for the network tests: started on
/// a free port and ready once it answers a C-ECHO; `interrupt()` stops it as
/// Ctrl-C does, `kill()` as a crash does.
public final class MedsynthListener {
    public let port: UInt16
    public let aeTitle = "MEDSYNTH"
    private let server: PeerProcess
    private let output: URL

    /// Starts `medsynth listen --catalog <catalog>` with `options`; its output
    /// goes to files in `output`, a folder. `echoOptions` are what echoscu
    /// needs to reach it (TLS files).
    public init(catalog: String, output: URL, options: [String] = [], echoOptions: [String] = []) throws {
        port = try StoreSCP.freePort()
        self.output = output
        server = try PeerProcess(
            Medsynth.executable.path, ["listen", "--catalog", catalog, "--port", String(port)] + options, output: output)
        try server.wait(for: "a C-ECHO answer", seconds: 10) { [port, aeTitle] in
            try ExternalProcess.run("echoscu", echoOptions + ["-aec", aeTitle, "127.0.0.1", String(port)]).status == 0
        }
    }

    /// What it printed on stderr so far.
    public var standardError: String { printed("stderr.txt") }

    /// Sends SIGINT, waits for the exit and returns what it printed.
    public func interrupt() -> ProcessOutput {
        let status = server.interrupt()
        return ProcessOutput(status: status, standardOutput: printed("stdout.txt"), standardError: printed("stderr.txt"))
    }

    private func printed(_ name: String) -> String {
        (try? String(contentsOf: output.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    /// Kills it with SIGKILL: nothing runs after.
    public func kill() { server.stop() }
}

/// A peer program of the network tests, started with TCP_NODELAY=1; its
/// output is discarded, or written to `stdout.txt` and `stderr.txt` in `output`.
public final class PeerProcess {
    private let name: String
    private let process = Process()

    /// Starts `name` (a path, or a program looked up in PATH) with `arguments`.
    public init(_ name: String, _ arguments: [String], output: URL? = nil) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: name.contains("/") ? name : try ExternalProcess.find(name))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["TCP_NODELAY": "1"]) { $1 }
        if let output {
            let files = ["stdout.txt", "stderr.txt"].map { output.appendingPathComponent($0) }
            for file in files { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
            process.standardOutput = try FileHandle(forWritingTo: files[0])
            process.standardError = try FileHandle(forWritingTo: files[1])
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }

    /// Waits for the exit and returns the status.
    public func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Sends SIGINT and returns the exit status.
    func interrupt() -> Int32 {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGINT) }
        return waitForExit()
    }

    /// Polls `ready` every 50 ms for up to `seconds`; stops the peer and throws if it never holds.
    func wait(for what: String, seconds: Int, until ready: () throws -> Bool) throws {
        for _ in 0..<(seconds * 20) {
            if try ready() { return }
            usleep(50_000)
        }
        stop()
        throw ExternalProcess.Failed(
            command: [name] + (process.arguments ?? []),
            output: ProcessOutput(status: -1, standardOutput: "", standardError: "no \(what) within \(seconds) s"))
    }

    /// Kills the peer: it has nothing to save, and SIGTERM may be blocked in
    /// the signal mask it inherits from the test process.
    func stop() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
