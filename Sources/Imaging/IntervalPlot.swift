/// A figure per row with its 95 % interval (the utility measure's mean
/// point error per arm): the row's label on the left, the interval as a
/// horizontal whisker and the figure as a dot, on an axis from 0.
public struct IntervalPlot {
    public struct Row {
        public var label: String
        public var value: Float
        /// [low, high], or empty when there is none.
        public var interval: [Float]

        public init(label: String, value: Float, interval: [Float]) {
            self.label = label
            self.value = value
            self.interval = interval
        }
    }

    public var rows: [Row]
    /// Written under the axis.
    public var axisLabel: String

    public init(rows: [Row], axisLabel: String) {
        self.rows = rows
        self.axisLabel = axisLabel
    }

    public func write(path: String) throws {
        let labelWidth = 6 * (rows.map(\.label.count).max() ?? 0) + 16, plotWidth = 480, rowHeight = 28
        let width = labelWidth + plotWidth + 24, height = rows.count * rowHeight + 48
        var canvas = Canvas(width: width, height: height)
        let largest = max(1e-6, rows.flatMap { $0.interval + [$0.value] }.filter(\.isFinite).max() ?? 1) * 1.1
        func x(_ value: Float) -> Int { labelWidth + Int(Float(plotWidth) * min(max(value, 0), largest) / largest) }
        for (index, row) in rows.enumerated() {
            let y = 16 + index * rowHeight
            canvas.text(row.label, rightAlignedAt: labelWidth - 8, centredOn: y)
            if row.interval.count == 2 {
                canvas.line(from: (x(row.interval[0]), y), to: (x(row.interval[1]), y), colour: (60, 90, 200), thick: true)
                for end in row.interval { canvas.fill(x: x(end), y: y - 4, width: 1, height: 9, colour: (60, 90, 200)) }
            }
            if row.value.isFinite { canvas.fill(x: x(row.value) - 2, y: y - 2, width: 5, height: 5, colour: (200, 40, 40)) }
        }
        let axisY = rows.count * rowHeight + 8
        canvas.line(from: (labelWidth, axisY), to: (labelWidth + plotWidth, axisY), colour: (40, 40, 40))
        for tick in 0...4 {
            let value = largest * Float(tick) / 4
            canvas.fill(x: x(value), y: axisY, width: 1, height: 4, colour: (40, 40, 40))
            canvas.text(LossPlot.label((value * 100).rounded() / 100), centredAt: x(value), top: axisY + 7)
        }
        canvas.text(axisLabel, centredAt: labelWidth + plotWidth / 2, top: axisY + 22)
        try PNGWriter.write(path: path, pixels: canvas.pixels, width: width, height: height, channels: 3)
    }
}
