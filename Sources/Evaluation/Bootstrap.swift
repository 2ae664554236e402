import Engine

/// 95 % intervals of a ratio by resampling whole groups (series) with
/// replacement: frames of one cine are not independent, so they are drawn
/// together.
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
        ratios.sort()
        return [ratios[draws * 25 / 1000], ratios[draws * 975 / 1000 - 1]]
    }

    /// Per group, in the order of its key (so that a seed gives the same
    /// draws in every run): how many of its members `isHit` and how many it has.
    static func groups(of keys: [Int], isHit: (Int) -> Bool) -> [(hits: Int, total: Int)] {
        Dictionary(grouping: keys.indices, by: { keys[$0] }).sorted { $0.key < $1.key }
            .map { (hits: $0.value.filter(isHit).count, total: $0.value.count) }
    }
}
