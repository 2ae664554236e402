import Engine

/// 95 % intervals of a ratio, or of a distance between mean rows, by
/// resampling whole groups (series) with replacement: frames of one cine are
/// not independent, so they are drawn together.
enum GroupBootstrap {
    static let draws = 1000

    /// Each stratum's groups are drawn again with replacement, as many as it
    /// holds; the ratio of summed hits to summed totals over all strata is
    /// taken per draw. Returns its 2.5th and 97.5th percentiles.
    static func ratioInterval(_ strata: [[(hits: Int, total: Int)]], random: inout EngineRandom) -> [Float] {
        var ratios: [Float] = []
        ratios.reserveCapacity(draws)
        for _ in 0..<draws {
            var hits = 0, total = 0
            for groups in strata {
                for _ in groups.indices {
                    let group = groups[Int(random.nextUInt64() % UInt64(groups.count))]
                    hits += group.hits
                    total += group.total
                }
            }
            ratios.append(Float(hits) / Float(max(1, total)))
        }
        return centralInterval(ratios)
    }

    /// Each stratum's groups are drawn again with replacement, as many as it
    /// holds; per draw, each stratum's mean (summed `sum` over summed
    /// `count`) and the mean of those means: a balanced accuracy when each
    /// stratum is one class. Returns its 2.5th and 97.5th percentiles.
    static func balancedMeanInterval(_ strata: [[(sum: Double, count: Int)]], random: inout EngineRandom) -> [Float] {
        let means = (0..<draws).map { _ in
            strata.reduce(0.0) { total, groups in
                var sum = 0.0, count = 0
                for _ in groups.indices {
                    let group = groups[Int(random.nextUInt64() % UInt64(groups.count))]
                    sum += group.sum
                    count += group.count
                }
                return total + sum / Double(max(1, count))
            } / Double(max(1, strata.count))
        }
        return centralInterval(means.map { Float($0) })
    }

    /// The 95 % interval of `distance` between the mean generated row and
    /// the mean real row: each draw takes the generated rows again one by
    /// one (they are independent) and the real rows by whole group (series),
    /// as many as there are, with replacement.
    static func meanDistanceInterval(
        generated: [[Double]], real: [[Double]], groups: [Int], distance: ([Double], [Double]) -> Float,
        random: inout EngineRandom
    ) -> [Float] {
        precondition(groups.count == real.count, "one group per real row")
        let realGroups = members(of: groups)
        let width = generated[0].count
        var distances: [Float] = []
        distances.reserveCapacity(draws)
        for _ in 0..<draws {
            var generatedSum = [Double](repeating: 0, count: width), realSum = [Double](repeating: 0, count: width)
            for _ in generated.indices {
                let row = generated[Int(random.nextUInt64() % UInt64(generated.count))]
                for index in 0..<width { generatedSum[index] += row[index] }
            }
            var realRows = 0
            for _ in realGroups.indices {
                for member in realGroups[Int(random.nextUInt64() % UInt64(realGroups.count))] {
                    for index in 0..<width { realSum[index] += real[member][index] }
                    realRows += 1
                }
            }
            distances.append(
                distance(generatedSum.map { $0 / Double(generated.count) }, realSum.map { $0 / Double(realRows) }))
        }
        return centralInterval(distances)
    }

    /// The 2.5th and 97.5th percentiles of `draws` values; [] without values.
    static func centralInterval(_ values: [Float]) -> [Float] {
        guard !values.isEmpty else { return [] }
        let sorted = values.sorted()
        return [sorted[sorted.count * 25 / 1000], sorted[sorted.count * 975 / 1000 - 1]]
    }

    /// Per group, in the order of its key (so that a seed gives the same
    /// draws in every run): how many of its members `isHit` and how many it has.
    static func groups(of keys: [Int], isHit: (Int) -> Bool) -> [(hits: Int, total: Int)] {
        members(of: keys).map { (hits: $0.filter(isHit).count, total: $0.count) }
    }

    /// The indices of `keys` grouped by key, groups in the order of their key.
    static func members(of keys: [Int]) -> [[Int]] {
        Dictionary(grouping: keys.indices, by: { keys[$0] }).sorted { $0.key < $1.key }.map(\.value)
    }
}
