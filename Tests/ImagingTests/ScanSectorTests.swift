import Foundation
import Testing

@testable import Imaging

/// The image area of a single frame: a seeded speckle fan on a black screen,
/// with text on the screen and a caliper line touching the fan.
struct ScanSectorTests {
    struct DrawnFrame {
        static let width = 240, height = 180
        var pixels = [UInt8](repeating: 0, count: width * height)
        var fan: [Int] = []
        var text: [Int] = []
        /// Caliper pixels more than 10 pixels outside the fan (the edge of the
        /// area found is blurred by the content mean's and the opening's radii).
        var caliperOutside: [Int] = []

        /// A fan from (120, 10), radii 20 to 160, 40 degrees either side of
        /// straight down; an anechoic (black) pool reaching its right edge.
        init(seed: UInt64) {
            var state = seed
            func speckle() -> UInt8 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(30 + (state >> 33) % 170)
            }
            for y in 0..<Self.height {
                for x in 0..<Self.width {
                    let (radius, angle) = Self.polar(x, y)
                    guard (20...160).contains(radius), abs(angle) <= 40 else { continue }
                    fan.append(y * Self.width + x)
                    let anechoic = (70...110).contains(radius) && angle < -25
                    pixels[y * Self.width + x] = anechoic ? 2 : speckle()
                }
            }
            // Text: rows of 2-pixel strokes on the screen, left top and right top.
            for (left, top) in [(4, 6), (4, 30), (180, 8)] {
                for glyph in 0..<5 {
                    for y in top..<(top + 12) {
                        for x in (left + glyph * 9)..<(left + glyph * 9 + 2) { text.append(y * Self.width + x) }
                    }
                }
            }
            for index in text { pixels[index] = 220 }
            // The caliper leaves the fan's right edge horizontally at row 100.
            let fanEnd = (0..<Self.width).last { fan.contains(100 * Self.width + $0) }!
            for y in 100...101 {
                for x in (fanEnd - 10)...(fanEnd + 40) {
                    pixels[y * Self.width + x] = 255
                    if x > fanEnd + 10 { caliperOutside.append(y * Self.width + x) }
                }
            }
        }

        /// Distance from the apex and angle from straight down, in degrees (positive to the left).
        static func polar(_ x: Int, _ y: Int) -> (Double, Double) {
            let dx = Double(x - 120), dy = Double(y - 10)
            return ((dx * dx + dy * dy).squareRoot(), atan2(-dx, dy) * 180 / .pi)
        }
    }

    @Test func singleFrameImageIsTheFanWithoutItsScreen() throws {
        let frame = DrawnFrame(seed: 5)
        let area = try #require(ScanSector.estimate(singleFrame: frame.pixels, width: DrawnFrame.width, height: DrawnFrame.height))
        let fanKept = frame.fan.filter { area[$0] }.count
        let textKept = frame.text.filter { area[$0] }.count
        let caliperKept = frame.caliperOutside.filter { area[$0] }.count
        print(
            "fan kept \(fanKept) of \(frame.fan.count), text kept \(textKept) of \(frame.text.count), "
                + "caliper kept \(caliperKept) of \(frame.caliperOutside.count)")
        #expect(Double(fanKept) >= 0.99 * Double(frame.fan.count))
        #expect(textKept == 0)
        #expect(caliperKept == 0)
    }

    /// A frame too dark to show its image is left alone rather than cut to its text.
    @Test func darkSingleFrameHasNoImageArea() {
        var frame = DrawnFrame(seed: 5)
        for index in frame.fan { frame.pixels[index] = UInt8(index % 5) }
        #expect(ScanSector.estimate(singleFrame: frame.pixels, width: DrawnFrame.width, height: DrawnFrame.height) == nil)
    }

    @Test func convexHullOfATriangle() {
        // Three pixels of a 5 x 5 mask: (0,0), (4,0), (0,4). The hull is the triangle under the diagonal.
        var mask = [Bool](repeating: false, count: 25)
        for (x, y) in [(0, 0), (4, 0), (0, 4)] { mask[y * 5 + x] = true }
        let hull = PixelMask.convexHull(mask, width: 5, height: 5)
        for y in 0..<5 {
            for x in 0..<5 { #expect(hull[y * 5 + x] == (x + y <= 4), "pixel \(x),\(y)") }
        }
    }
}
