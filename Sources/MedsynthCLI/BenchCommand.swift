import ArgumentParser
import Catalog
import Foundation

/// The benchmark scenarios (docs/performance.md).
enum BenchScenario: String, CaseIterable, ExpressibleByArgument {
    /// Import of many small generated instances into a fresh catalog.
    case `import`
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark scenario and report its figures.",
        discussion: """
            import: writes --instances copies of a real sample under new UIDs into a temporary \
            folder, imports them into a fresh catalog there, and reports instances per second over \
            the whole run and over its first and last thousand files. The folder is removed afterwards.

            Compare figures measured in one run: the machine is shared and noisy.
            """
    )

    @Option(help: "The scenario to run: \(BenchScenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scenario: BenchScenario = .import

    @Option(help: "import: how many instances to generate and import.")
    var instances = 10_000

    @Option(help: ArgumentHelp("import: the real DICOM file to copy under new UIDs.", valueName: "file"))
    var sample = "samples/data/pydicom-data/SC_rgb.dcm"

    @Option(help: "import: files parsed in parallel (default: one per core).")
    var jobs: Int?

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    func validate() throws {
        if instances < 1 { throw ValidationError("--instances must be at least 1.") }
    }

    func run() throws {
        ConsoleLogHandler.bootstrap(verbose: false)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("medsynth-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        let inputs = work.appendingPathComponent("inputs")
        FileHandle.standardError.write(Data("bench: writing \(instances) instances from \(sample)\n".utf8))
        let result = try failingWithStatus {
            try ImportBenchmark.generate(sample: sample, count: instances, into: inputs)
            return try ImportBenchmark.run(sample: sample, inputs: inputs, count: instances,
                                           catalogFolder: work.appendingPathComponent("catalog"), jobs: jobs)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(String(format: """
                import of %d instances (%@), %d jobs:
                  total           %.2f s, %.0f instances/s
                  first thousand  %.0f instances/s
                  last thousand   %.0f instances/s (%.2f of the first)
                """, result.instances, result.sample, result.jobs, result.seconds, result.instancesPerSecond,
                result.firstThousandPerSecond, result.lastThousandPerSecond, result.lastToFirstRatio))
        }
    }
}
