import ArgumentParser
import Catalog

extension QueryLevel: ExpressibleByArgument {}
extension SyntheticFilter: ExpressibleByArgument {}

/// Filters shared by the commands that select instances.
struct InstanceFilterOptions: ParsableArguments {
    @Option(help: "Only this modality (US, XA, CR, ...).")
    var modality: String?

    @Option(help: "Real instances (no), synthetic ones (yes) or both (any).")
    var synthetic: SyntheticFilter = .any

    @Option(help: ArgumentHelp("Only this Patient ID.", valueName: "patient-id"))
    var patient: String?

    @Option(help: ArgumentHelp("Only this Study Instance UID.", valueName: "uid"))
    var study: String?

    @Option(help: ArgumentHelp("Only this Series Instance UID.", valueName: "uid"))
    var series: String?

    @Option(help: ArgumentHelp("Only synthetic instances that synthesize wrote from this model.", valueName: "name"))
    var model: String?

    var filter: QueryFilter {
        QueryFilter(modality: modality, synthetic: synthetic, patient: patient, study: study, series: series, model: model)
    }
}

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "List patients, studies, series or instances of the catalog.",
        discussion: """
            Filters select instances; patients, studies and series are listed when one of their \
            instances passes, with counts of those that pass; annotations, those of the frames of \
            the instances that pass (frame_number from 1; keypoints as COCO's flat x, y, v list in \
            the frame's pixels, as imported). JSON output is an array of objects with stable \
            snake_case keys (docs/cli.md lists them).

            Examples:
              medsynth query series --modality US
              medsynth query instances --synthetic no --format csv > real.csv
              medsynth query annotations --modality XA --json
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Argument(help: "What to list: patients, studies, series, instances or annotations.")
    var level: QueryLevel

    @OptionGroup var filterOptions: InstanceFilterOptions

    @OptionGroup var output: ListingOptions

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        let table = try failingWithStatus { try catalog.query(level, filter: filterOptions.filter) }
        output.print(table)
    }
}
