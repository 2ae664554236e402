import ArgumentParser
import Catalog

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Instances, frames and decodable frames per modality, real and synthetic apart."
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @OptionGroup var output: ListingOptions

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        let table = try failingWithStatus { try catalog.statistics() }
        output.print(table)
    }
}
