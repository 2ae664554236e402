import Foundation

/// A rectangle of pixels with both corners inclusive, as DICOM's Region
/// Location (0018,6018-601E) states one: columns x0...x1, rows y0...y1.
public struct PixelRectangle: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var x0: Int
    public var y0: Int
    public var x1: Int
    public var y1: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }

    /// The whole of a `width` x `height` frame.
    public init(wholeFrameOf width: Int, height: Int) { self.init(x0: 0, y0: 0, x1: width - 1, y1: height - 1) }

    public var width: Int { x1 - x0 + 1 }
    public var height: Int { y1 - y0 + 1 }
    public var area: Int { width * height }

    /// "x0,y0,x1,y1", as `train --region` takes it.
    public var description: String { "\(x0),\(y0),\(x1),\(y1)" }

    /// Parses "x0,y0,x1,y1"; nil unless four integers with x0 <= x1 and y0 <= y1, none negative.
    public init?(_ text: String) {
        let numbers = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard numbers.count == 4, let x0 = numbers[0], let y0 = numbers[1], let x1 = numbers[2], let y1 = numbers[3],
            x0 >= 0, y0 >= 0, x0 <= x1, y0 <= y1
        else { return nil }
        self.init(x0: x0, y0: y0, x1: x1, y1: y1)
    }

    /// True when the rectangle is not empty and lies on a `width` x `height` frame.
    public func fits(width frameWidth: Int, height frameHeight: Int) -> Bool {
        x0 >= 0 && y0 >= 0 && x0 <= x1 && y0 <= y1 && x1 < frameWidth && y1 < frameHeight
    }

    /// The part of it on a `frameWidth` x `frameHeight` frame (a vendor's
    /// region one pixel past the edge is common); nil when it is empty or
    /// lies off the frame.
    public func cut(toWidth frameWidth: Int, height frameHeight: Int) -> PixelRectangle? {
        guard x0 <= x1, y0 <= y1 else { return nil }
        return intersection(PixelRectangle(wholeFrameOf: frameWidth, height: frameHeight))
    }

    /// The pixels both rectangles cover; nil when they have none in common.
    public func intersection(_ other: PixelRectangle) -> PixelRectangle? {
        let common = PixelRectangle(x0: max(x0, other.x0), y0: max(y0, other.y0), x1: min(x1, other.x1), y1: min(y1, other.y1))
        return common.x0 <= common.x1 && common.y0 <= common.y1 ? common : nil
    }

    /// The smallest rectangle around the true pixels of a `width`-wide mask; nil when there are none.
    public init?(boundingTrueOf mask: [Bool], width: Int) {
        let set = mask.indices.filter { mask[$0] }
        guard !set.isEmpty else { return nil }
        let xs = set.map { $0 % width }, ys = set.map { $0 / width }
        self.init(x0: xs.min()!, y0: ys.min()!, x1: xs.max()!, y1: ys.max()!)
    }

    /// Its values of a one-channel image `frameWidth` wide, row-major.
    public func crop<Element>(_ pixels: [Element], frameWidth: Int) -> [Element] {
        var out = [Element]()
        out.reserveCapacity(area)
        for y in y0...y1 { out += pixels[(y * frameWidth + x0)...(y * frameWidth + x1)] }
        return out
    }
}
