import Catalog
import Engine

/// What held-out validation frames are grouped by. Frames of one cine (one
/// series) are near copies of each other, so a split by frame would leak
/// training frames into validation; a split by patient is stricter still.
public enum SplitGrouping: String, Codable, CaseIterable, Sendable {
    case series, patient
}

/// Which instances of a data set train the model and which are held out.
public struct ValidationSplit: Equatable, Sendable {
    public let grouping: SplitGrouping
    /// Per instance of the data set: true when held out.
    public let heldOut: [Bool]

    public init(grouping: SplitGrouping, heldOut: [Bool]) {
        self.grouping = grouping
        self.heldOut = heldOut
    }

    /// Holds out whole groups, in an order drawn from `random`, while the
    /// held-out frames stay within `fraction` of all frames; when no group
    /// fits but there are at least two, the smallest is held out, so that a
    /// nonzero fraction always gives some validation frames. The training
    /// side always keeps at least one group.
    public static func make(_ dataset: FrameDataset, grouping: SplitGrouping, fraction: Double, random: EngineRandom) -> ValidationSplit {
        let keys = dataset.instances.map { grouping == .series ? $0.seriesInstanceUid : $0.patientId }
        var framesPerKey: [String: Int] = [:]
        for instance in dataset.frameInstance { framesPerKey[keys[instance], default: 0] += 1 }
        var random = random
        let groups = random.shuffled(framesPerKey.keys.sorted())
        var chosen: Set<String> = []
        if fraction > 0, groups.count >= 2 {
            let budget = fraction * Double(dataset.count)
            var taken = 0
            for group in groups where Double(taken + framesPerKey[group]!) <= budget && chosen.count < groups.count - 1 {
                chosen.insert(group)
                taken += framesPerKey[group]!
            }
            if chosen.isEmpty, let smallest = groups.min(by: { (framesPerKey[$0]!, $0) < (framesPerKey[$1]!, $1) }) {
                chosen.insert(smallest)
            }
        }
        return ValidationSplit(grouping: grouping, heldOut: keys.map { chosen.contains($0) })
    }

    /// Frame indices of the data set on each side.
    public func frames(of dataset: FrameDataset) -> (training: [Int], validation: [Int]) {
        var training: [Int] = [], validation: [Int] = []
        for (frame, instance) in dataset.frameInstance.enumerated() {
            if heldOut[instance] { validation.append(frame) } else { training.append(frame) }
        }
        return (training, validation)
    }

    /// The number of distinct groups held out (`heldOut` true) or trained on,
    /// among the instances that gave frames.
    public func groups(of dataset: FrameDataset, heldOut side: Bool) -> Int {
        Set(
            Set(dataset.frameInstance).filter { heldOut[$0] == side }.map {
                grouping == .series ? dataset.instances[$0].seriesInstanceUid : dataset.instances[$0].patientId
            }
        ).count
    }
}
