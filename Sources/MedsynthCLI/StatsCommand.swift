import ArgumentParser
import Catalog

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Instances, frames and decodable frames per modality, real and synthetic apart."
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "table, json or csv.")
    var format: TableFormat = .table

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        let table = try failingWithStatus { try catalog.statistics() }
        print(table.rendered(as: format), terminator: "")
    }
}
