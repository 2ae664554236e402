import Foundation
import Imaging
import TestSupport
import Testing

@Suite struct PreprocessingTests {
    @Test func areaAverageOfAUniformImageIsUniform() {
        let pixels = [UInt8](repeating: 77, count: 13 * 7)
        let out = SquareResampler.centreCropAreaAverage(pixels: pixels, width: 13, height: 7, side: 3)
        #expect(largestDifference(out, [Float](repeating: 77, count: 9)) < 1e-4)
    }

    @Test func centreCropThenAreaAverageByHand() {
        // 4 wide, 2 high: the centred square is columns 1 and 2.
        let pixels: [UInt8] = [
            0, 10, 20, 99,
            0, 30, 40, 99,
        ]
        #expect(SquareResampler.centreCropAreaAverage(pixels: pixels, width: 4, height: 2, side: 1) == [25])
        #expect(SquareResampler.centreCropAreaAverage(pixels: pixels, width: 4, height: 2, side: 2) == [10, 20, 30, 40])
        // 3 -> 2: each output cell covers one whole and one half source cell (weights 2/3 and 1/3).
        let three: [UInt8] = [0, 30, 60, 0, 30, 60, 0, 30, 60]
        let out = SquareResampler.centreCropAreaAverage(pixels: three, width: 3, height: 3, side: 2)
        print("3 -> 2 area average: \(out)")
        #expect(largestDifference(out, [10, 50, 10, 50]) < 1e-4)
    }

    @Test func sampleGridAndLossPlotAreReadablePNGs() throws {
        let folder = try TemporaryFolder()
        let grid = folder.url.appendingPathComponent("grid.png").path
        let images = (0..<(4 * 16)).map { Float($0 % 16) / 7.5 - 1 }
        try SampleGrid.write(images: images, count: 4, side: 4, columns: 2, path: grid)
        let read = try PNGWriter.read(path: grid, channels: 1)
        #expect(read.width == 2 * 4 + 3 * 2 && read.height == 2 * 4 + 3 * 2)
        // The first image's first pixel is -1 -> 0, its last 1 -> 255; borders are mid-grey.
        #expect(read.pixels[2 * read.width + 2] == 0)
        #expect(read.pixels[5 * read.width + 5] == 255)
        #expect(read.pixels[0] == 128)

        let plot = folder.url.appendingPathComponent("losses.png").path
        try LossPlot(
            steps: Array(1...50),
            series: [
                .init(label: "D", values: (1...50).map { 1.4 - Float($0) / 100 }, colour: (200, 60, 40)),
                .init(label: "G", values: (1...50).map { 0.7 + Float($0) / 100 }, colour: (40, 90, 200)),
            ]
        ).write(path: plot)
        let chart = try PNGWriter.read(path: plot, channels: 3)
        #expect(chart.width == 960 && chart.height == 480)
        // Both series' colours are drawn.
        var colours: Set<[UInt8]> = []
        for offset in stride(from: 0, to: chart.pixels.count, by: 3) {
            colours.insert(Array(chart.pixels[offset..<(offset + 3)]))
        }
        #expect(colours.contains([200, 60, 40]) && colours.contains([40, 90, 200]))
    }
}
