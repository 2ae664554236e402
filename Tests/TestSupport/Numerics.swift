/// The largest absolute difference between two arrays of the same length.
public func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "comparing \(a.count) values with \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The largest magnitude in an array (to scale tolerances).
public func largestMagnitude(_ a: [Float]) -> Float { a.reduce(0) { max($0, abs($1)) } }
