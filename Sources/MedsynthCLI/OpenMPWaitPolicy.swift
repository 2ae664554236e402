import ArgumentParser
import Foundation

/// oneDNN runs the engine's convolutions on libgomp's OpenMP threads, which by
/// default spin for a while after every parallel region. The engine's own
/// threads run next (BatchNorm, activations, Adam), so a spinning thread takes
/// a core from them: passive waiting made the compact training step 1.2 x
/// faster on 2 cores (docs/performance.md). libgomp reads OMP_WAIT_POLICY once,
/// when it loads, before `main`; so when the user has not set it, a command
/// that runs convolutions sets it and starts medsynth again. The others do not
/// pay for the second start (about 40 ms).
enum OpenMPWaitPolicy {
    static let variable = "OMP_WAIT_POLICY"
    /// The subcommands whose work runs through the engine's convolutions.
    static let convolvingCommands = Set(
        [TrainCommand.self, SynthesizeCommand.self, EvaluateCommand.self, BenchCommand.self].compactMap {
            ($0 as any ParsableCommand.Type).configuration.commandName
        })

    /// Returns only when the command runs no convolutions, the policy is
    /// already set (by the user or by the restart) or the restart failed;
    /// otherwise the process is replaced.
    static func restartPassiveUnlessSet() {
        guard CommandLine.arguments.dropFirst().first.map(convolvingCommands.contains) == true,
            ProcessInfo.processInfo.environment[variable] == nil
        else { return }
        setenv(variable, "passive", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: go on with the default policy, slower.
    }
}
