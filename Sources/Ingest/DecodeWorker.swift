import CPlatform
import Catalog
import DICOM
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Parses and decodes untrusted files in a child process, so that a file that
/// crashes or hangs DCMTK costs that file only: the child's death or silence
/// becomes a rejection naming the file, and a new child takes the next one.
///
/// The child is `medsynth-decode-worker` (the `MedsynthDecodeWorker` target,
/// installed beside `medsynth`), which reads one request line per file from
/// its standard input and answers one line on its standard output
/// (`DecodeService.serve`). One `DecodeWorker` serves one thread at a time.
public final class DecodeWorker {
    /// What the child found.
    public enum Outcome: Sendable, Equatable {
        /// Parsed, within the limits, and every frame decoded (or the file
        /// states why it cannot be decoded here).
        case instance(InstanceMetadata)
        /// Not accepted, with the reason.
        case rejected(String)
    }

    /// The worker itself cannot run: the import cannot go on.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let reason: String
        public let path: String
        public var description: String { "\(reason): \(path)" }
    }

    /// The executable run as the child.
    public let executable: String
    /// Longest time one file may take; then the child is killed and the file rejected.
    public let timeout: Duration

    /// The running child, its request pipe and its reply pipe.
    private var child: pid_t = 0
    private var requests: Int32 = -1
    private var replies: Int32 = -1
    private var pending: [UInt8] = []

    /// The worker executable's file name.
    public static let executableName = "medsynth-decode-worker"
    /// The environment variable that names another worker executable.
    public static let executableVariable = "MEDSYNTH_DECODE_WORKER"

    public init(executable: String = DecodeWorker.defaultExecutable(), timeout: Duration = .seconds(600)) {
        self.executable = executable
        self.timeout = timeout
    }

    deinit { stop() }

    /// The worker executable: `$MEDSYNTH_DECODE_WORKER` when set, else
    /// `medsynth-decode-worker` beside the running executable (`scripts/install.sh`
    /// installs it next to `medsynth`; the test runner lives next to it in
    /// `.build/<configuration>`).
    public static func defaultExecutable() -> String {
        if let configured = ProcessInfo.processInfo.environment[executableVariable], !configured.isEmpty {
            return configured
        }
        let own = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return own.deletingLastPathComponent().appendingPathComponent(executableName).path
    }

    /// Parses and decodes `path` in the child. Throws `Failure` only when the
    /// worker cannot be run or was stopped by a signal meant for the whole
    /// import; anything the file does to the child is a `.rejected` outcome.
    public func inspect(path: String) throws -> Outcome {
        let reply = try exchange(DecodeRequest(path: path))
        if let metadata = reply.metadata { return .instance(metadata) }
        return .rejected(reply.rejection ?? "rejected by the decode worker")
    }

    /// The SHA-256 of the dataset of `path` (`FileDigest.datasetSHA256`),
    /// computed in the child, which reads the whole file, or why it could not
    /// be. Throws as `inspect` does.
    public func datasetDigest(path: String) throws -> Result<String, DatasetDigestFailure> {
        let reply = try exchange(DecodeRequest(path: path, datasetDigest: true))
        if let digest = reply.datasetSHA256 { return .success(digest) }
        return .failure(DatasetDigestFailure(reason: reply.rejection ?? "no digest from the decode worker"))
    }

    /// Why a dataset digest could not be computed.
    public struct DatasetDigestFailure: Error, Sendable {
        public let reason: String
    }

    /// Sends one request and returns the reply, or a rejection when the child
    /// died, hung or answered nonsense.
    private func exchange(_ request: DecodeRequest) throws -> DecodeReply {
        try startIfNeeded()
        let line = try JSONEncoder().encode(request) + Data("\n".utf8)
        let sent = line.withUnsafeBytes { writeAll(requests, $0) }
        let answer = sent ? readLine(deadline: ContinuousClock.now + timeout) : .closed
        guard case .line(let text) = answer else {
            return DecodeReply(rejection: try rejectionAfterLoss(timedOut: answer == .timedOut))
        }
        guard let reply = try? JSONDecoder().decode(DecodeReply.self, from: Data(text)) else {
            stop()
            return DecodeReply(rejection: "the decode worker answered something unreadable")
        }
        return reply
    }

    /// Ends the child: closing its input would do, but a child stuck in a
    /// file must not outlive the import.
    public func stop() {
        _ = reap(killing: true)
    }

    private func startIfNeeded() throws {
        if child != 0 { return }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(reason: "cannot start the decode worker (no \(Self.executableName) executable there)", path: executable)
        }
        // A worker that dies while we write must not take this process with it.
        signal(SIGPIPE, SIG_IGN)
        // Close-on-exec pipes: a second worker must not inherit the first one's
        // ends, or the first would never see its input close.
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard ms_pipe_cloexec(&input) == 0 else { throw startFailure(errno) }
        guard ms_pipe_cloexec(&output) == 0 else {
            let saved = errno
            close(input[0])
            close(input[1])
            throw startFailure(saved)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, arguments, environ)
        close(input[0])
        close(output[1])
        guard status == 0 else {
            close(input[1])
            close(output[0])
            throw startFailure(status)
        }
        child = pid
        requests = input[1]
        replies = output[0]
    }

    private func startFailure(_ code: Int32) -> Failure {
        Failure(reason: "cannot start the decode worker (\(String(cString: strerror(code))))", path: executable)
    }

    /// Closes the pipes and waits for the child, killing it first when asked
    /// (or when it does not end within a few seconds of losing its input).
    /// Returns its wait status, or nil when there was no child.
    private func reap(killing: Bool) -> Int32? {
        if requests >= 0 { close(requests) }
        if replies >= 0 { close(replies) }
        requests = -1
        replies = -1
        pending = []
        guard child != 0 else { return nil }
        defer { child = 0 }
        if killing { kill(child, SIGKILL) }
        var status: Int32 = 0
        for _ in 0..<500 {
            let reaped = waitpid(child, &status, WNOHANG)
            if reaped == child { return status }
            if reaped < 0 && errno != EINTR { return nil }
            usleep(10_000)
        }
        kill(child, SIGKILL)
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// The child went silent or away with the file: kills it if it hangs,
    /// reaps it, and says why the file is rejected.
    private func rejectionAfterLoss(timedOut: Bool) throws -> String {
        guard let status = reap(killing: timedOut) else { return "the decode worker stopped" }
        if timedOut {
            return "decoding took longer than \(timeout.components.seconds) s (stopped)"
        }
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS, which Swift does not import.
        let signalNumber = status & 0x7F
        guard signalNumber != 0 && signalNumber != 0x7F else {
            return "the decoder exited with status \((status >> 8) & 0xFF) on this file"
        }
        // Signals a person or a supervisor sends stop the import; faults are the file's.
        if [SIGINT, SIGTERM, SIGHUP, SIGQUIT].contains(signalNumber) {
            throw Failure(reason: "the decode worker was stopped by signal \(signalNumber)", path: executable)
        }
        return "the decoder crashed on this file (\(Self.signalName(signalNumber)))"
    }

    static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [
            SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGABRT: "SIGABRT", SIGFPE: "SIGFPE",
            SIGILL: "SIGILL", SIGKILL: "SIGKILL, perhaps out of memory",
        ]
        return "signal \(number)" + (names[number].map { ", \($0)" } ?? "")
    }

    private enum Answer: Equatable {
        case line([UInt8])
        case closed
        case timedOut
    }

    /// One reply line, or why there is none.
    private func readLine(deadline: ContinuousClock.Instant) -> Answer {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeFirst(newline + 1)
                return .line(line)
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return .timedOut }
            let milliseconds = Int32(clamping: remaining.components.seconds * 1000 + 1)
            var descriptor = pollfd(fd: replies, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno == EINTR { continue }
            if ready == 0 { continue }  // the deadline check above decides
            guard ready > 0 else { return .closed }
            let count = read(replies, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return .closed }
            pending += chunk[..<count]
        }
    }
}

private func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return false }
        offset += written
    }
    return true
}
