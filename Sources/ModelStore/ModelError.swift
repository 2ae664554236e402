/// A model that cannot be found, opened or fed, naming it or its file.
public enum ModelError: Error, CustomStringConvertible, Sendable {
    /// No model of the registry has this id or name.
    case notFound(String)
    /// A registered model without a checkpoint yet.
    case noCheckpoint(String)
    /// A model's files cannot be read or written, or do not fit together.
    case modelFiles(String, path: String)
    /// A reference that is not a checkpoint folder, and no catalog to look it up in.
    case catalogNeeded(String)
    /// A `--latents` file that cannot serve as generator inputs.
    case latents(String, path: String)

    public var description: String {
        switch self {
        case .notFound(let name):
            "no model with this id or name in the catalog (see 'medsynth models'): \(name)"
        case .noCheckpoint(let name):
            "the model has no checkpoint yet (still starting, or failed before its first one): \(name)"
        case .modelFiles(let reason, let path): "\(reason): \(path)"
        case .catalogNeeded(let reference):
            "not a checkpoint folder (no model.json) and no catalog to look the model up in: \(reference)"
        case .latents(let reason, let path): "unusable latents (\(reason)): \(path)"
        }
    }
}
