import Foundation

/// A value in a query result.
public enum CatalogValue: Equatable, Sendable {
    case text(String)
    case integer(Int64)
    case bool(Bool)
    /// A list of numbers (keypoint triples): a JSON array, or separated by spaces.
    case numbers([Double])
    case null
}

/// Rows of named columns, as `query` and `stats` print them.
public struct Table: Equatable, Sendable {
    public var columns: [String]
    public var rows: [[CatalogValue]]

    public init(columns: [String], rows: [[CatalogValue]]) {
        self.columns = columns
        self.rows = rows
    }
}

/// How a table is printed.
public enum TableFormat: String, CaseIterable, Sendable {
    /// Aligned columns for a person.
    case table
    /// An array of objects with the column names as keys, in column order.
    case json
    /// RFC 4180: a header line, then one line per row.
    case csv
}

extension Table {
    public func rendered(as format: TableFormat) -> String {
        switch format {
        case .table: return renderedAsText()
        case .json: return renderedAsJSON()
        case .csv: return renderedAsCSV()
        }
    }

    private func renderedAsText() -> String {
        let cells = rows.map { $0.map { Self.plain($0).escapingControlCharacters } }
        var widths = columns.map(\.count)
        for row in cells {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ values: [String]) -> String {
            var text = ""
            for (index, value) in values.enumerated() {
                let isLast = index == values.count - 1
                text += isLast ? value : value.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }
            return text
        }
        var lines = [line(columns)]
        lines += cells.map(line)
        lines.append("(\(rows.count) \(rows.count == 1 ? "row" : "rows"))")
        return lines.joined(separator: "\n") + "\n"
    }

    private func renderedAsJSON() -> String {
        guard !rows.isEmpty else { return "[]\n" }
        let objects = rows.map { row in
            "  {" + zip(columns, row).map { "\(Self.jsonString($0)): \(Self.json($1))" }.joined(separator: ", ") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }

    private func renderedAsCSV() -> String {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        // Text read from files that a spreadsheet would run as a formula gets a
        // leading apostrophe (OWASP, CSV injection); numbers stay numbers.
        func cell(_ value: CatalogValue) -> String {
            guard case .text(let text) = value, let first = text.unicodeScalars.first,
                ["=", "+", "-", "@", "\t", "\r"].contains(first)
            else { return Self.plain(value) }
            return "'" + text
        }
        let lines =
            [columns.map(field).joined(separator: ",")]
            + rows.map { $0.map { field(cell($0)) }.joined(separator: ",") }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func plain(_ value: CatalogValue) -> String {
        switch value {
        case .text(let text): return text
        case .integer(let number): return String(number)
        case .bool(let flag): return flag ? "yes" : "no"
        case .numbers(let values): return values.map(number).joined(separator: " ")
        case .null: return ""
        }
    }

    /// A finite number as the shortest decimal that reads back as it: 3, 12.5, 0.1.
    package static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    static func json(_ value: CatalogValue) -> String {
        switch value {
        case .text(let text): return jsonString(text)
        case .integer(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .numbers(let values): return "[" + values.map(number).joined(separator: ", ") + "]"
        case .null: return "null"
        }
    }

    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
