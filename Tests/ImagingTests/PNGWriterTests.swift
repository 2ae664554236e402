import Foundation
import Imaging
import TestSupport
import Testing

@Suite("PNG output")
struct PNGWriterTests {
    @Test("gray and RGB images read back as written", arguments: [1, 3])
    func roundTrip(channels: Int) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let width = 7, height = 5
        let pixels = (0..<width * height * channels).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
        let path = folder.file("image.png")
        try PNGWriter.write(path: path, pixels: pixels, width: width, height: height, channels: channels)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let image = try PNGWriter.read(path: path, channels: channels)
        #expect(image.width == width && image.height == height)
        #expect(image.pixels == pixels)
    }

    @Test("an unwritable or unreadable path is an error naming it")
    func unwritable() throws {
        let error = #expect(throws: PNGError.self) {
            try PNGWriter.write(path: "/nonexistent-folder/x.png", pixels: [0], width: 1, height: 1, channels: 1)
        }
        #expect(error?.description.hasSuffix("/nonexistent-folder/x.png") == true)
        #expect(throws: PNGError.self) { _ = try PNGWriter.read(path: "/nonexistent-folder/x.png", channels: 1) }
    }
}
