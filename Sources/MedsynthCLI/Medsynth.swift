import ArgumentParser
import Foundation
import Synthesis

/// The root command: lists the subcommands and maps every failure to a
/// documented exit status (docs/cli.md).
@main
struct Medsynth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medsynth",
        abstract: "A medical imaging workbench: catalog DICOM studies, train a GAN per modality, export synthetic frames.",
        discussion: """
            The catalog is ./catalog unless --catalog DIR or MEDSYNTH_CATALOG names another folder.
            Start with 'medsynth import PATH...', then 'medsynth stats' and 'medsynth query instances';
            'medsynth train --modality US' trains a model, 'medsynth models' lists them,
            'medsynth synthesize --model NAME --count N' exports synthetic DICOM,
            'medsynth evaluate --model NAME' measures the generated frames.
            Exit status: 0 success, 1 done but some inputs rejected, 2 usage error, 3 stopped by a signal,
            20-39 input errors, 40-59 output errors, 60-79 processing errors (see docs/cli.md).
            """,
        version: SoftwareVersion.current,
        subcommands: [
            ImportCommand.self, QueryCommand.self, ShowCommand.self, StatsCommand.self, TrainCommand.self,
            ModelsCommand.self, SynthesizeCommand.self, EvaluateCommand.self, SendCommand.self, ListenCommand.self,
            BenchCommand.self,
        ]
    )

    static func main() {
        OpenMPWaitPolicy.restartPassiveUnlessSet()
        // Everything medsynth writes can hold patient data (the catalog and its
        // WAL, managed copies, model folders, the frame cache, synthetic output,
        // reports): owner-only, whatever the user's umask. Modes of folders
        // that already exist are left as they are.
        umask(0o077)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CommandFailure {
            printError(failure.message)
            Foundation.exit(failure.status.rawValue)
        } catch {
            // Usage errors exit with 2 (ArgumentParser's own default is 64).
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
