import Foundation

/// oneDNN runs the engine's convolutions on libgomp's OpenMP threads, which by
/// default spin for a while after every parallel region. The engine's own
/// threads run next (BatchNorm, activations, Adam), so a spinning thread takes
/// a core from them: passive waiting made the compact training step 1.2 x
/// faster on 2 cores (docs/performance.md). libgomp reads OMP_WAIT_POLICY once,
/// when it loads, before `main`; so when the user has not set it, medsynth sets
/// it and starts itself again.
enum OpenMPWaitPolicy {
    static let variable = "OMP_WAIT_POLICY"

    /// Returns only when the policy is already set (by the user or by the
    /// restart) or the restart failed; otherwise the process is replaced.
    static func restartPassiveUnlessSet() {
        guard ProcessInfo.processInfo.environment[variable] == nil else { return }
        setenv(variable, "passive", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: go on with the default policy, slower.
    }
}
