import ArgumentParser
import Catalog
import ModelStore

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the models of the registry: status, steps, epochs, frames and digests.",
        discussion: """
            Each model's files are in <catalog>/<folder>. Its lineage (the instances it trained on \
            and those held out for validation) is in the catalog's model_instances table.
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @OptionGroup var output: ListingOptions

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        output.print(try failingWithStatus { try catalog.modelsTable() })
    }
}
