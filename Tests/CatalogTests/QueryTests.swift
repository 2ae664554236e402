import Catalog
import DICOM
import Foundation
import Ingest
import TestSupport
import Testing

/// A catalog with its database in memory, holding an ultrasound cine, an MR
/// series and a secondary capture that states Conversion Type SYN.
func smallCatalog() throws -> (Catalog, TemporaryFolder) {
    let folder = try TemporaryFolder()
    let catalog = try Catalog(inMemoryWithStorage: folder.url)
    _ = try Importer(catalog: catalog).run(paths: [
        Samples.path("deid-data/GREYSCALE_CINE.dcm"),
        Samples.path("pydicom-data/emri_small.dcm"),
        Samples.path("pydicom-data/MR2_UNCR.dcm"),
        Samples.path("pydicom-data/SC_rgb_dcmtk_ebcr_dcmd.dcm"),
    ])
    return (catalog, folder)
}

@Suite("Queries and output formats")
struct QueryTests {
    @Test("filters: modality (any case), synthetic, patient, study, series")
    func filters() throws {
        let (catalog, folder) = try smallCatalog()
        defer { folder.remove() }
        let ultrasound = try catalog.query(.instances, filter: QueryFilter(modality: "us"))
        #expect(ultrasound.rows.count == 1)
        #expect(try catalog.query(.series, filter: QueryFilter(modality: "MR")).rows.count == 2)
        #expect(try catalog.query(.instances, filter: QueryFilter(synthetic: .yes)).rows.count == 1)
        #expect(try catalog.query(.instances, filter: QueryFilter(synthetic: .no)).rows.count == 3)
        #expect(try catalog.query(.instances, filter: QueryFilter(synthetic: .any)).rows.count == 4)
        #expect(try catalog.query(.patients, filter: QueryFilter(patient: "10101010101")).rows.count == 1)
        #expect(try catalog.query(.patients, filter: QueryFilter(patient: "nobody")).rows.isEmpty)

        let series = try catalog.query(.series, filter: QueryFilter(modality: "US"))
        let seriesUID = series.rows[0][series.columns.firstIndex(of: "series_instance_uid")!]
        let studyUID = series.rows[0][series.columns.firstIndex(of: "study_instance_uid")!]
        guard case .text(let seriesText) = seriesUID, case .text(let studyText) = studyUID else {
            Issue.record("UIDs are not text")
            return
        }
        let bySeries = try catalog.query(.instances, filter: QueryFilter(series: seriesText))
        #expect(bySeries.rows.count == 1)
        let byStudy = try catalog.query(.studies, filter: QueryFilter(study: studyText))
        #expect(byStudy.rows.count == 1)
        #expect(byStudy.rows[0][byStudy.columns.firstIndex(of: "frames")!] == .integer(27))
    }

    @Test("JSON: an array of objects with the documented snake_case keys")
    func json() throws {
        let (catalog, folder) = try smallCatalog()
        defer { folder.remove() }
        let text = try catalog.query(.instances, filter: QueryFilter(modality: "US")).rendered(as: .json)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(objects.count == 1)
        let keys = Set(objects[0].keys)
        for key in [
            "sop_instance_uid", "series_instance_uid", "study_instance_uid", "patient_id", "modality",
            "frames", "rows", "columns", "transfer_syntax", "decodable", "synthetic",
        ] {
            #expect(keys.contains(key), "missing \(key)")
        }
        #expect(objects[0]["frames"] as? Int == 27)
        #expect(objects[0]["decodable"] as? Bool == true)
        #expect(objects[0]["synthetic"] as? Bool == false)
        #expect(objects[0]["modality"] as? String == "US")
        #expect(try catalog.query(.patients, filter: QueryFilter(patient: "nobody")).rendered(as: .json) == "[]\n")
    }

    @Test("CSV: a header, one line per row, quoted where needed")
    func csv() throws {
        let table = Table(
            columns: ["name", "note", "count"],
            rows: [[.text("a,b"), .text("say \"hi\""), .integer(3)], [.text("plain"), .null, .bool(true)]])
        #expect(table.rendered(as: .csv) == "name,note,count\r\n\"a,b\",\"say \"\"hi\"\"\",3\r\nplain,,yes\r\n")
        let (catalog, folder) = try smallCatalog()
        defer { folder.remove() }
        let lines = try catalog.query(.series, filter: QueryFilter()).rendered(as: .csv).split(separator: "\r\n")
        #expect(lines.count == 1 + 4)
        #expect(lines[0].hasPrefix("series_instance_uid,study_instance_uid,patient_id,modality"))
    }

    @Test("CSV cells that a spreadsheet would run as formulas are neutralised; numbers are not")
    func csvFormulas() {
        let table = Table(
            columns: ["value"],
            rows: [
                [.text("=HYPERLINK(\"http://x\")")], [.text("+1")], [.text("-2+3")],
                [.text("@SUM(A1)")], [.text("\tx")], [.integer(-4)], [.text("Smith^J")],
            ])
        #expect(
            table.rendered(as: .csv)
                == "value\r\n\"'=HYPERLINK(\"\"http://x\"\")\"\r\n'+1\r\n'-2+3\r\n'@SUM(A1)\r\n'\tx\r\n-4\r\nSmith^J\r\n")
    }

    @Test("table: control characters in values are shown escaped, never passed to the terminal")
    func tableEscaping() {
        let table = Table(columns: ["name"], rows: [[.text("a\nmedsynth: forged\u{1b}[31m\u{9b}2J")]])
        #expect(table.rendered(as: .table) == "name\na\\nmedsynth: forged\\u{1b}[31m\\u{9b}2J\n(1 row)\n")
    }

    @Test("table: aligned columns and a row count")
    func table() {
        let table = Table(columns: ["a", "long_name"], rows: [[.text("x"), .integer(1)], [.text("longer"), .null]])
        #expect(table.rendered(as: .table) == "a       long_name\nx       1\nlonger  \n(2 rows)\n")
    }

    @Test("JSON strings are escaped")
    func jsonEscaping() throws {
        let table = Table(columns: ["k"], rows: [[.text("quote \" backslash \\ newline \n tab \t bell \u{7}")]])
        let parsed = try JSONSerialization.jsonObject(with: Data(table.rendered(as: .json).utf8)) as? [[String: String]]
        #expect(parsed?[0]["k"] == "quote \" backslash \\ newline \n tab \t bell \u{7}")
    }
}
