import Catalog
import Foundation

/// Where the catalog keeps what belongs to models, so that no other code
/// builds these paths.
extension Catalog {
    /// A registered model's folder: checkpoint, losses, sample grids (`models/<id>`).
    public func folder(of model: ModelRecord) -> URL {
        directory.appendingPathComponent(model.folder, isDirectory: true)
    }

    /// The relative folder a new model gets once it has its id.
    static func modelFolder(id: Int64) -> String { "models/\(id)" }
}
