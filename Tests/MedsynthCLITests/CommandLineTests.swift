import Foundation
import TestSupport
import Testing

@Suite("The medsynth command line")
struct CommandLineTests {
    @Test("a file name with a newline and escape sequences is printed escaped: it cannot forge a medsynth line")
    func forgedFileName() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let name = "evil\nmedsynth: all files imported\u{1b}[2J.dcm"
        var garbage = Data(count: 128) + Data("DICM".utf8)
        garbage += Data(repeating: 0xAB, count: 64)
        let inputs = folder.url.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: false)
        try garbage.write(to: inputs.appendingPathComponent(name))
        let run = try Medsynth.run(["import", "--catalog", folder.file("catalog"), inputs.path])
        #expect(run.status == 1)
        let lines = run.standardError.split(separator: "\n").filter { $0.hasPrefix("medsynth:") }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasSuffix("evil\\nmedsynth: all files imported\\u{1b}[2J.dcm") == true)
        #expect(!run.standardError.contains("\u{1b}"))
    }

    @Test("import --json, exit 1 with each rejected file named, then stats, query and show")
    func importQueryShow() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        let missing = folder.file("missing.dcm")
        let imported = try Medsynth.run([
            "import", "--catalog", catalog, "--json",
            Samples.path("pydicom-data/emri_small.dcm"),
            Samples.path("deid-data/GREYSCALE_CINE.dcm"), missing,
        ])
        #expect(imported.status == 1)
        #expect(imported.standardError.contains("medsynth: rejected (No such file or directory): \(missing)"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(imported.standardOutput.utf8)) as? [String: Any])
        #expect(summary["imported"] as? Int == 2)
        #expect(summary["rejected"] as? Int == 1)
        #expect(summary["frames"] as? Int == 37)
        #expect(summary["by_modality"] as? [String: Int] == ["MR": 1, "US": 1])
        for key in ["files_seen", "duplicates", "skipped"] { #expect(summary[key] != nil, "missing \(key)") }

        let stats = try Medsynth.run(["stats", "--json"], environment: ["MEDSYNTH_CATALOG": catalog])
        #expect(stats.status == 0)
        #expect(stats.standardOutput.contains("\"modality\": \"US\", \"kind\": \"real\", \"instances\": 1, \"frames\": 27"))

        let query = try Medsynth.run(["query", "instances", "--catalog", catalog, "--modality", "US", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(query.standardOutput.utf8)) as? [[String: Any]])
        let uid = try #require(rows.first?["sop_instance_uid"] as? String)

        let png = folder.file("frame.png")
        let shown = try Medsynth.run(["show", uid, "--catalog", catalog, "--frame", "27", "--png", png])
        #expect(shown.status == 0, "\(shown.standardError)")
        #expect(FileManager.default.fileExists(atPath: png))
        let outOfRange = try Medsynth.run(["show", uid, "--catalog", catalog, "--frame", "28", "--png", png])
        #expect(outOfRange.status == 22)
        #expect(outOfRange.standardError == "medsynth: --frame 28 is out of range: the instance has 27 frames, numbered from 1: \(uid)\n")
        let unknown = try Medsynth.run(["show", "1.2.3", "--catalog", catalog, "--png", png])
        #expect(unknown.status == 22)
        #expect(unknown.standardError.hasPrefix("medsynth: no instance with this SOP Instance UID"))
    }

    @Test("usage errors exit 2; a missing catalog exits 20 naming it")
    func exitStatuses() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        #expect(try Medsynth.run(["query", "nonsense"]).status == 2)
        #expect(try Medsynth.run(["import"]).status == 2)
        #expect(try Medsynth.run(["show", "1.2.3", "--frame", "0", "--png", "x.png"]).status == 2)
        let missing = try Medsynth.run(["stats", "--catalog", folder.file("none")])
        #expect(missing.status == 20)
        #expect(missing.standardError.hasSuffix(": \(folder.file("none"))\n"))
        #expect(try Medsynth.run(["--help"]).status == 0)
    }
}
