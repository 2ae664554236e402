import Foundation
import ModelStore

#if canImport(Glibc)
    import Glibc
#endif

/// The exclusive lock of one model folder for as long as a process trains it,
/// so that two `train --resume` never write one model. An advisory `flock`:
/// the kernel releases it when the holder dies, so a lock left by a killed
/// process is recovered by the next taker without any clean-up.
final class ModelLock {
    private let descriptor: Int32
    static let fileName = "train.lock"

    /// Takes the lock of `folder`; throws `TrainingError.busy` when another
    /// process holds it.
    init(folder: URL, model: String) throws {
        let path = folder.appendingPathComponent(Self.fileName).path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ModelError.modelFiles("cannot create the model's lock (\(String(cString: strerror(errno))))", path: path)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw TrainingError.busy(model)
        }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
