import Catalog
import DICOM
import Engine
import Evaluation
import Foundation
import Frames
import Imaging
import Ingest
import ModelStore
import Synthesis
import Training

/// Exit statuses by range, as DCMTK's tools document theirs (docs/cli.md).
enum ExitStatus: Int32 {
    case success = 0
    /// The work was done, but some inputs were rejected (each named on stderr).
    case someInputsRejected = 1
    /// The command line is wrong.
    case usage = 2
    /// Stopped by SIGINT or SIGTERM after saving its work (train: resume with --resume).
    case interrupted = 3
    // 20-39: input
    case catalogMissing = 20
    case inputUnreadable = 21
    case notInCatalog = 22
    /// Nothing to train on: no matching instances, or none with decodable frames.
    case noTrainingFrames = 23
    // 40-59: output
    case outputUnwritable = 40
    case catalogUnwritable = 41
    case catalogBusy = 42
    // 60-79: processing
    case decodingFailed = 60
    /// A model's files could not be read or written, or do not fit together.
    case modelFilesFailed = 61
    /// synthesize: the privacy filter withheld so many frames that fewer than
    /// --count were written before the draw limit; those written are complete and recorded.
    case fewerFramesThanRequested = 62
    // 80-99: network
    /// send: no association with the receiver (refused, rejected, unreachable), or one that broke off.
    case associationFailed = 80
    /// listen: cannot listen (the address or port is taken or not allowed) or load the TLS files.
    case cannotListen = 81
}

/// A fatal error, printed as `medsynth: <what failed>: <file>`.
struct CommandFailure: Error {
    let status: ExitStatus
    let message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    /// Maps the libraries' errors to the documented statuses.
    init(_ error: any Error) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let catalogError as CatalogError:
            switch catalogError {
            case .missing, .notAFolder: self.init(.catalogMissing, "\(catalogError)")
            case .unreadable, .outdated: self.init(.inputUnreadable, "\(catalogError)")
            case .unwritable: self.init(.catalogUnwritable, "\(catalogError)")
            case .busy: self.init(.catalogBusy, "\(catalogError)")
            }
        case let lookupError as CatalogLookupError:
            self.init(.notInCatalog, "\(lookupError)")
        case let storageError as StorageError:
            self.init(.catalogUnwritable, "\(storageError)")
        case let pngError as PNGError:
            self.init(.outputUnwritable, "\(pngError)")
        case let dicomError as DicomError:
            self.init(.decodingFailed, "\(dicomError)")
        case let modelError as ModelError:
            switch modelError {
            case .notFound: self.init(.notInCatalog, "\(modelError)")
            case .noCheckpoint, .modelFiles: self.init(.modelFilesFailed, "\(modelError)")
            case .catalogNeeded: self.init(.catalogMissing, "\(modelError)")
            case .latents: self.init(.inputUnreadable, "\(modelError)")
            }
        case is FrameDatasetError, is LabelledFrames.LoadError, is UtilityError:
            self.init(.noTrainingFrames, "\(error)")
        case let trainingError as TrainingError:
            switch trainingError {
            case .unknownModality: self.init(.notInCatalog, "\(trainingError)")
            case .noInstances, .noDecodableFrames: self.init(.noTrainingFrames, "\(trainingError)")
            case .stoppedBeforeStart: self.init(.interrupted, "\(trainingError)")
            case .notApplicable, .nothingPlanned: self.init(.usage, "\(trainingError)")
            case .busy: self.init(.catalogBusy, "\(trainingError)")
            }
        case let registryError as ModelRegistryError:
            self.init(.usage, "\(registryError)")
        case let synthesisError as SynthesisError:
            switch synthesisError {
            case .unsupportedChannels, .noKeypoints, .tooLarge: self.init(.usage, "\(synthesisError)")
            case .output: self.init(.outputUnwritable, "\(synthesisError)")
            }
        case let evaluationError as EvaluationError:
            switch evaluationError {
            case .notRegistered: self.init(.notInCatalog, "\(evaluationError)")
            case .notGrayscale: self.init(.usage, "\(evaluationError)")
            case .diverged: self.init(.modelFilesFailed, "\(evaluationError)")
            case .report: self.init(.outputUnwritable, "\(evaluationError)")
            }
        case let cannotListen as NetworkIngest.CannotListen:
            self.init(.cannotListen, "\(cannotListen)")
        case let tensorFileError as TensorFileError:
            self.init(.modelFilesFailed, "\(tensorFileError)")
        default:
            self.init(.catalogUnwritable, "\(error)")
        }
    }
}

/// `medsynth: <message>` on stderr, the form of every message the command line
/// prints there, one line each: file names and values in it are escaped.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("medsynth: \(message.escapingControlCharacters)\n".utf8))
}

/// Runs `body`, turning any library error into a `CommandFailure`.
func failingWithStatus<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw CommandFailure(error)
    }
}
