/// Why training cannot start or go on.
public enum TrainingError: Error, CustomStringConvertible, Sendable {
    case unknownModality(String, known: [String])
    case noInstances(String)
    case noDecodableFrames(String)
    case stoppedBeforeStart
    /// Another process is training this model.
    case busy(String)
    /// An option that does not apply to this model.
    case notApplicable(String)
    /// `--resume` without a length on a model whose last run reached its plan.
    case nothingPlanned(String, step: Int, planned: Int?)

    public var description: String {
        switch self {
        case .unknownModality(let modality, let known):
            let known = known.isEmpty ? "none" : known.joined(separator: ", ")
            if modality.uppercased() == "SEG" {
                return
                    "SEG instances are DICOM Segmentations, labels of other frames, not images to train on (the catalog has images of: \(known))"
            }
            return "no instances of modality \(modality) in the catalog (it has: \(known))"
        case .noInstances(let reason), .noDecodableFrames(let reason), .notApplicable(let reason):
            return reason
        case .stoppedBeforeStart:
            return "stopped before training started; no model was registered"
        case .busy(let name):
            return "another medsynth is training this model (wait for it, or stop it first): \(name)"
        case .nothingPlanned(let name, let step, let planned):
            let state =
                planned == nil
                ? "the model records no unfinished run (it is at step \(step))" : "the model's last run reached its planned step (\(step))"
            return "\(state); give --steps or --epochs to train further: \(name)"
        }
    }
}
