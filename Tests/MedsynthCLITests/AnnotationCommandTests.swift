import Foundation
import Imaging
import TestSupport
import Testing

/// Annotations through the command line: import, query, stats, show --overlay (issue 37).
@Suite("Annotations on the command line")
struct AnnotationCommandTests {
    static let keypointColour: [UInt8] = [255, 230, 0]

    @Test("import a labelled cine; query annotations, stats and show --overlay (also --prepared) show the keypoints in register")
    func inRegister() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try SimulatedAngiography.generate(cines: 1, frames: 2, size: 128, seed: 5, into: folder.path)
        let catalog = folder.file("catalog")
        let imported = try Medsynth.run(["import", "--catalog", catalog, "--json", folder.file("xa")])
        #expect(imported.status == 0, "\(imported.standardError)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(imported.standardOutput.utf8)) as? [String: Any])
        #expect(summary["annotation_files"] as? Int == 1 && summary["annotations"] as? Int == 2)

        let query = try Medsynth.run(["query", "annotations", "--catalog", catalog, "--modality", "XA", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(query.standardOutput.utf8)) as? [[String: Any]])
        #expect(rows.count == 2)
        let row = try #require(rows.last)
        let uid = try #require(row["sop_instance_uid"] as? String)
        #expect(row["frame_number"] as? Int == 2 && row["label_set"] as? String == "tavi-stent")
        let keypoints = try #require(row["keypoints"] as? [Double])
        #expect(keypoints.count == 12)

        let stats = try Medsynth.run(["stats", "--catalog", catalog, "--json"])
        #expect(
            stats.standardOutput.contains(
                #""modality": "XA", "kind": "real", "instances": 1, "frames": 2, "decodable_frames": 2, "labelled_frames": 2"#))

        // The cross's centre pixel is the keypoint's pixel, on the frame and on the enlarged training image.
        let overlay = folder.file("overlay.png")
        #expect(try Medsynth.run(["show", uid, "--catalog", catalog, "--frame", "2", "--overlay", "--png", overlay]).status == 0)
        let drawn = try PNGWriter.read(path: overlay, channels: 3)
        let prepared = folder.file("prepared.png")
        let shown = try Medsynth.run(["show", uid, "--catalog", catalog, "--frame", "2", "--prepared", "--overlay", "--png", prepared])
        #expect(shown.status == 0, "\(shown.standardError)")
        let picture = try PNGWriter.read(path: prepared, channels: 3)
        #expect(picture.width == 128 + 8 + 128)
        for index in 0..<4 {
            let x = keypoints[3 * index], y = keypoints[3 * index + 1]
            func colour(_ image: (pixels: [UInt8], width: Int, height: Int), _ px: Int, _ py: Int) -> [UInt8] {
                Array(image.pixels[(py * image.width + px) * 3..<(py * image.width + px) * 3 + 3])
            }
            #expect(colour(drawn, Int(x.rounded()), Int(y.rounded())) == Self.keypointColour)
            #expect(colour(picture, Int(x.rounded()), Int(y.rounded())) == Self.keypointColour)
            // The training image is 64 pixels, enlarged twice: (x + 0.5) / 2 - 0.5 there, (x' + 0.5) * 2 - 0.5 on the picture.
            let trainingX = (x + 0.5) * 64 / 128 - 0.5, trainingY = (y + 0.5) * 64 / 128 - 0.5
            let pictureX = 136 + Int(((trainingX + 0.5) * 2 - 0.5).rounded()), pictureY = Int(((trainingY + 0.5) * 2 - 0.5).rounded())
            #expect(colour(picture, pictureX, pictureY) == Self.keypointColour)
        }
    }
}
