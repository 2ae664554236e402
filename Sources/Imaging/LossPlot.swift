import Foundation

/// A line chart of training losses over steps, as the paper's figures 4 and 5
/// plot them: one colour per series, each step faint and a moving average
/// drawn over it, axes with tick labels, written as an RGB PNG.
public struct LossPlot {
    public struct Series {
        public var label: String
        public var values: [Float]
        public var colour: (UInt8, UInt8, UInt8)

        public init(label: String, values: [Float], colour: (UInt8, UInt8, UInt8)) {
            self.label = label
            self.values = values
            self.colour = colour
        }
    }

    public var steps: [Int]
    public var series: [Series]
    public var width = 960
    public var height = 480
    /// The vertical axis's name, and its range: nil for 0 up to a round
    /// number above the largest value.
    public var axisLabel = "LOSS"
    public var range: ClosedRange<Float>?

    public init(steps: [Int], series: [Series]) {
        precondition(series.allSatisfy { $0.values.count == steps.count }, "every series needs one value per step")
        self.steps = steps
        self.series = series
    }

    private let marginLeft = 64, marginRight = 16, marginTop = 28, marginBottom = 40

    public func write(path: String) throws {
        var canvas = Canvas(width: width, height: height)
        let plotWidth = width - marginLeft - marginRight, plotHeight = height - marginTop - marginBottom
        let firstStep = steps.first ?? 0, lastStep = max(steps.last ?? 1, firstStep + 1)
        let finite = series.flatMap(\.values).filter(\.isFinite)
        let bottom = range?.lowerBound ?? 0, top = range?.upperBound ?? Self.niceCeiling(finite.max() ?? 1)
        func x(_ step: Int) -> Int { marginLeft + Int(Double(step - firstStep) / Double(lastStep - firstStep) * Double(plotWidth - 1)) }
        func y(_ value: Float) -> Int {
            let share = (max(bottom, min(value, top)) - bottom) / (top - bottom)
            return marginTop + plotHeight - 1 - Int(Double(share) * Double(plotHeight - 1))
        }

        // Grid and tick labels: five horizontal lines, five step marks.
        for tick in 0...4 {
            let value = bottom + (top - bottom) * Float(tick) / 4
            let row = y(value)
            canvas.line(from: (marginLeft, row), to: (marginLeft + plotWidth - 1, row), colour: (225, 225, 225))
            canvas.text(Self.label(value), rightAlignedAt: marginLeft - 6, centredOn: row)
            let step = firstStep + (lastStep - firstStep) * tick / 4
            canvas.text("\(step)", centredAt: x(step), top: marginTop + plotHeight + 6)
        }
        canvas.line(from: (marginLeft, marginTop), to: (marginLeft, marginTop + plotHeight - 1), colour: (0, 0, 0))
        canvas.line(
            from: (marginLeft, marginTop + plotHeight - 1), to: (marginLeft + plotWidth - 1, marginTop + plotHeight - 1),
            colour: (0, 0, 0))
        canvas.text("STEP", centredAt: marginLeft + plotWidth / 2, top: height - 14)
        canvas.text(axisLabel, centredAt: 20, top: 8)

        let window = max(1, steps.count / 50)
        for (index, entry) in series.enumerated() {
            let faint = (
                UInt8(155 + Int(entry.colour.0) * 100 / 255), UInt8(155 + Int(entry.colour.1) * 100 / 255),
                UInt8(155 + Int(entry.colour.2) * 100 / 255)
            )
            for i in 1..<max(1, steps.count) where entry.values[i - 1].isFinite && entry.values[i].isFinite {
                canvas.line(from: (x(steps[i - 1]), y(entry.values[i - 1])), to: (x(steps[i]), y(entry.values[i])), colour: faint)
            }
            let smooth = Self.movingAverage(entry.values, window: window)
            for i in 1..<max(1, steps.count) where smooth[i - 1].isFinite && smooth[i].isFinite {
                canvas.line(from: (x(steps[i - 1]), y(smooth[i - 1])), to: (x(steps[i]), y(smooth[i])), colour: entry.colour, thick: true)
            }
            // Legend, top right.
            let legendX = width - marginRight - 120 + index * 60
            canvas.fill(x: legendX, y: 10, width: 16, height: 7, colour: entry.colour)
            canvas.text(entry.label, left: legendX + 20, top: 10)
        }
        try PNGWriter.write(path: path, pixels: canvas.pixels, width: width, height: height, channels: 3)
    }

    /// Trailing mean over `window` values (non-finite values skipped).
    static func movingAverage(_ values: [Float], window: Int) -> [Float] {
        var result = [Float](repeating: .nan, count: values.count)
        var sum: Double = 0, count = 0
        for i in values.indices {
            if values[i].isFinite {
                sum += Double(values[i])
                count += 1
            }
            if i >= window, values[i - window].isFinite {
                sum -= Double(values[i - window])
                count -= 1
            }
            if count > 0 { result[i] = Float(sum / Double(count)) }
        }
        return result
    }

    /// The smallest of 1, 2, 2.5, 5 times a power of ten at or above `value`.
    static func niceCeiling(_ value: Float) -> Float {
        guard value > 0 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for factor: Float in [1, 2, 2.5, 5, 10] where factor * power >= value { return factor * power }
        return 10 * power
    }

    static func label(_ value: Float) -> String {
        String(format: "%g", value)
    }
}
