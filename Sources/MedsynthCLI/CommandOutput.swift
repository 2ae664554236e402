import ArgumentParser
import Catalog
import Foundation

/// `--json`, which every command takes: its result as one JSON document on
/// stdout, everything for a person on stderr (docs/cli.md, "Output").
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the result as one JSON object on stdout (keys in docs/cli.md); messages go to stderr.")
    var json = false
}

/// The output options of the listing commands (`query`, `stats`, `models`).
struct ListingOptions: ParsableArguments {
    @Option(help: "table (aligned columns) or csv.")
    var format: ListingFormat = .table

    @Flag(help: "Print an array of objects on stdout instead (keys in docs/cli.md).")
    var json = false

    enum ListingFormat: String, ExpressibleByArgument, CaseIterable { case table, csv }

    func validate() throws {
        if json && format != .table { throw ValidationError("Give --json or --format csv, not both.") }
    }

    /// Prints `table` in the chosen form.
    func print(_ table: Table) {
        let rendered = table.rendered(as: json ? .json : format == .csv ? .csv : .table)
        Swift.print(rendered, terminator: "")
    }
}

/// Prints `value` as the command's one JSON document: snake_case keys as
/// the types name them, sorted, slashes unescaped, then a newline.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Text for a person: on stdout, or on stderr when stdout carries JSON.
/// Unbuffered, so that it comes in order with the progress lines on stderr.
func printResult(_ text: String, json: Bool) {
    (json ? FileHandle.standardError : FileHandle.standardOutput).write(Data((text + "\n").utf8))
}

/// A path as the user's shell would resolve it: against the current folder.
func absolutePath(_ path: String, isDirectory: Bool = false) -> URL {
    URL(fileURLWithPath: path, isDirectory: isDirectory).standardizedFileURL
}
