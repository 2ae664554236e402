import Foundation

/// DCMTK's `storescp` (package dcmtk) on a loopback port, receiving into a
/// folder, for the network tests; `stop()` ends it.
public final class StoreSCP {
    public let port: UInt16
    public let aeTitle: String
    public let folder: URL
    private let process: Process

    /// Starts storescp with `options` (after its defaults: AE title, output
    /// folder) on a free port, and waits until it answers a C-ECHO.
    public init(aeTitle: String = "PEER", folder: URL, options: [String] = []) throws {
        self.aeTitle = aeTitle
        self.folder = folder
        port = try Self.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: try ExternalProcess.find("storescp"))
        process.arguments = ["--aetitle", aeTitle, "--output-directory", folder.path] + options + [String(port)]
        process.environment = ProcessInfo.processInfo.environment.merging(["TCP_NODELAY": "1"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            let echo = try ExternalProcess.run("echoscu", ["-aec", aeTitle, "127.0.0.1", String(port)])
            if echo.status == 0 { return }
            usleep(50_000)
        }
        stop()
        throw ExternalProcess.Failed(
            command: ["storescp", String(port)],
            output: ProcessOutput(status: -1, standardOutput: "", standardError: "no C-ECHO answer within 5 s"))
    }

    /// `AE@127.0.0.1:PORT`, as `send --to` takes it.
    public var address: String { "\(aeTitle)@127.0.0.1:\(port)" }

    /// Kills storescp: it has nothing to save, and SIGTERM may be blocked in
    /// the signal mask it inherits from the test process.
    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

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
