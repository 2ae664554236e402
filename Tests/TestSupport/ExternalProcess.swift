import Foundation

/// A finished process: its status and what it printed.
public struct ProcessOutput: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

/// Runs programs the tests check results with (the medsynth executable,
/// dciodvfy, dcmdump, python3).
public enum ExternalProcess {
    /// Runs `executable` (a path, or a name looked up in PATH) to completion.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        currentDirectory: URL? = nil
    ) throws -> ProcessOutput {
        let process = Process()
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : try find(executable))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ProcessOutput(
            status: process.terminationStatus, standardOutput: String(decoding: outData, as: UTF8.self),
            standardError: String(decoding: errData, as: UTF8.self))
    }

    /// The path of `name` in PATH; throws naming the missing program (and its Debian package).
    public static func find(_ name: String) throws -> String {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MissingProgram(name: name)
    }

    /// A helper command that exited with a failure.
    public struct Failed: Error, CustomStringConvertible {
        public let command: [String]
        public let output: ProcessOutput
        public var description: String { "\(command.joined(separator: " ")) exited \(output.status): \(output.standardError)" }

        public init(command: [String], output: ProcessOutput) {
            self.command = command
            self.output = output
        }
    }

    public struct MissingProgram: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "\(name) is not installed: run scripts/install-system-packages.sh" }
    }
}

/// Runs the built `medsynth` executable (a sibling of the test bundle).
public struct Medsynth {
    public static let executable: URL = {
        var folder = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("medsynth").path) {
            folder.deleteLastPathComponent()
            precondition(folder.path != "/", "the medsynth executable was not built next to the tests")
        }
        return folder.appendingPathComponent("medsynth")
    }()

    /// Runs medsynth with `arguments`, in `currentDirectory` when given.
    public static func run(_ arguments: [String], environment: [String: String] = [:], currentDirectory: URL? = nil) throws -> ProcessOutput
    {
        try ExternalProcess.run(executable.path, arguments, environment: environment, currentDirectory: currentDirectory)
    }

    /// Makes everything below `folder` read-only for the user `runWithoutWriteAccess` runs as.
    public static func makeReadOnly(_ folder: String) throws {
        let owner = getuid() == 0 ? ["chown", "-R", "nobody", folder] : nil
        for command in [owner, ["chmod", "-R", "a-w", folder]].compactMap({ $0 }) {
            let result = try ExternalProcess.run(try ExternalProcess.find(command[0]), Array(command.dropFirst()))
            guard result.status == 0 else { throw ExternalProcess.Failed(command: command, output: result) }
        }
    }

    /// Runs medsynth where write permissions hold: as `nobody` when the tests
    /// run as root (root writes through any mode), else as the current user.
    public static func runWithoutWriteAccess(_ arguments: [String]) throws -> ProcessOutput {
        guard getuid() == 0 else { return try run(arguments) }
        return try ExternalProcess.run(
            try ExternalProcess.find("setpriv"),
            ["--reuid=nobody", "--regid=nogroup", "--clear-groups", executable.path] + arguments)
    }
}
