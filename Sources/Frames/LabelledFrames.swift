import Catalog
import DICOM
import Foundation
import Imaging
import TaskModel

/// Labelled frames of catalogued instances, prepared as a model's frames
/// are, their keypoints or masks carried through the preparation
/// (`FramePlan.trainingImageAnnotation`): the real frames of the utility
/// measure (docs/evaluation.md, "Utility"). A label set with keypoint names
/// gives keypoint targets; one without (a COCO category of masks, a
/// Segmentation's segment) gives mask targets.
public struct LabelledFrames: Sendable {
    public let set: TaskFrames
    /// The label set whose keypoints or masks these are, and its keypoint names in order (none for masks).
    public let labelSet: String
    public let keypointNames: [String]
    /// Series Instance UIDs, by the series numbers of `set`.
    public let seriesUIDs: [String]

    /// Why labelled frames cannot be loaded.
    public enum LoadError: Error, CustomStringConvertible, Sendable {
        case noLabels
        case severalLabelSets([String])
        case unknownLabelSet(String, known: [String])

        public var description: String {
            switch self {
            case .noLabels:
                "none of these frames has keypoint or mask annotations (import COCO keypoints or masks, or DICOM Segmentations: "
                    + "docs/catalog.md)"
            case .severalLabelSets(let names):
                "the frames carry labels of several label sets (\(names.joined(separator: ", "))): name one with --label-set"
            case .unknownLabelSet(let name, let known):
                "no keypoints or masks of label set \(name) on these frames (they have: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            }
        }
    }

    /// What a task model learns from `labelSet`: its keypoints when it names
    /// any, else its masks.
    public static func head(of labelSet: LabelSetRecord) -> TaskNetwork.Head {
        let names = labelSet.keypoints
        return names.isEmpty ? .mask : .keypoints(names.count)
    }

    /// The annotations of some instances, read from the catalog once, by
    /// instance, in frame order.
    public struct Annotations: Sendable {
        let byInstance: [Int64: [(annotation: AnnotationRecord, labelSet: LabelSetRecord)]]

        public init(of candidates: [TrainingCandidate], catalog: Catalog) throws {
            // Only linked annotations come back, each with its instance.
            byInstance = Dictionary(
                grouping: try catalog.linkedAnnotations(instanceIDs: candidates.map(\.instanceId)), by: { $0.annotation.instanceId ?? -1 })
        }

        /// The label set to use among those with something to learn (with
        /// `kind`, those whose annotations carry it): `requested`, else the
        /// only one. Throws `LoadError` otherwise.
        public func chooseLabelSet(requested: String?, carrying kind: LabelChannels.Kind? = nil) throws -> LabelSetRecord {
            var sets: [String: LabelSetRecord] = [:]
            for (annotation, labelSet) in byInstance.values.joined() {
                let qualifies = kind.map { Self.carries(annotation, labelSet, $0) } ?? Self.teaches(annotation, labelSet)
                if qualifies { sets[labelSet.name] = labelSet }
            }
            if let requested {
                guard let chosen = sets[requested] else { throw LoadError.unknownLabelSet(requested, known: sets.keys.sorted()) }
                return chosen
            }
            guard let only = sets.values.first else { throw LoadError.noLabels }
            guard sets.count == 1 else { throw LoadError.severalLabelSets(sets.keys.sorted()) }
            return only
        }

        /// Whether `annotation` carries what its label set's task learns.
        private static func teaches(_ annotation: AnnotationRecord, _ labelSet: LabelSetRecord) -> Bool {
            LabelledFrames.head(of: labelSet) == .mask ? annotation.mask != nil : annotation.keypoints != nil
        }

        /// The annotations of `labelSet` on `candidate`'s frames that its task learns from.
        func of(_ candidate: TrainingCandidate, labelSet: LabelSetRecord) -> [AnnotationRecord] {
            (byInstance[candidate.instanceId] ?? []).filter { $0.labelSet.id == labelSet.id && Self.teaches($0.annotation, labelSet) }
                .map(\.annotation)
        }

        /// Whether `annotation` carries `kind`: keypoints of a label set that names them, or a mask.
        private static func carries(_ annotation: AnnotationRecord, _ labelSet: LabelSetRecord, _ kind: LabelChannels.Kind) -> Bool {
            kind == .keypoints ? annotation.keypoints != nil && !labelSet.keypoints.isEmpty : annotation.mask != nil
        }

        /// The annotations of `labelSet` on `candidate`'s frames that carry `kind` (keypoints or a mask).
        public func of(_ candidate: TrainingCandidate, labelSet: LabelSetRecord, carrying kind: LabelChannels.Kind) -> [AnnotationRecord] {
            (byInstance[candidate.instanceId] ?? []).filter { $0.labelSet.id == labelSet.id && Self.carries($0.annotation, labelSet, kind) }
                .map(\.annotation)
        }

        /// The series of `candidates` that hold labels of `labelSet`, in
        /// the order their first labelled instance comes.
        public func labelledSeries(_ candidates: [TrainingCandidate], labelSet: LabelSetRecord) -> [String] {
            var series: [String] = []
            for candidate in candidates where !of(candidate, labelSet: labelSet).isEmpty {
                if !series.contains(candidate.seriesInstanceUid) { series.append(candidate.seriesInstanceUid) }
            }
            return series
        }
    }

    /// The frames of `candidates` with labels of `labelSet`, at
    /// `preprocessing`'s resolution, in 0...255. A frame with several
    /// objects of the label set gives the keypoints of its first, or the
    /// union of their masks. Series are numbered from `firstSeries` in order
    /// of first appearance.
    public static func load(
        _ candidates: [TrainingCandidate], annotations: Annotations, labelSet: LabelSetRecord, preprocessing: FramePreprocessing,
        catalog: Catalog, firstSeries: Int = 0
    ) throws -> LabelledFrames {
        let side = preprocessing.resolution, names = labelSet.keypoints
        let seriesUIDs = annotations.labelledSeries(candidates, labelSet: labelSet)
        var set = TaskFrames(side: side, head: head(of: labelSet))
        for candidate in candidates {
            let labelled = annotations.of(candidate, labelSet: labelSet)
            guard !labelled.isEmpty else { continue }
            let file = try DicomFile(path: catalog.storage.absolutePath(relative: candidate.storedPath))
            let plan = try preprocessing.prepare(file, geometry: file.geometry).plan
            let series = firstSeries + (seriesUIDs.firstIndex(of: candidate.seriesInstanceUid) ?? 0)
            for (frameNumber, objects) in byFrame(labelled) {
                let gray = try file.grayFrame(frameNumber - 1)
                let prepared = plan.trainingImageAnnotation(
                    FrameAnnotation(
                        label: labelSet.name, keypoints: FrameAnnotation.keypoints(flat: objects[0].keypointValues ?? [], names: names),
                        skeleton: [], mask: set.head == .mask ? union(objects.compactMap(\.labelMask)) : nil), side: side)
                let target: [Float]
                switch set.head {
                case .mask:
                    guard let mask = prepared.mask else { continue }
                    target = mask.pixels.map(Float.init)
                case .keypoints:
                    guard prepared.keypoints.count == names.count else { continue }
                    target = prepared.keypoints.flatMap { [Float($0.x), Float($0.y)] }
                }
                set.append(
                    image: plan.trainingImage(gray.pixels, frameWidth: gray.width, side: side), target: target,
                    labelled: set.head == .mask ? [] : prepared.keypoints.map(\.isLabelled), series: series)
            }
        }
        return LabelledFrames(set: set, labelSet: labelSet.name, keypointNames: names, seriesUIDs: seriesUIDs)
    }

    /// `annotations` (in frame order) grouped by frame number, in that order.
    static func byFrame(_ annotations: [AnnotationRecord]) -> [(frameNumber: Int, objects: [AnnotationRecord])] {
        var groups: [(frameNumber: Int, objects: [AnnotationRecord])] = []
        for annotation in annotations {
            if groups.last?.frameNumber == annotation.frameNumber {
                groups[groups.count - 1].objects.append(annotation)
            } else {
                groups.append((annotation.frameNumber, [annotation]))
            }
        }
        return groups
    }

    /// The pixels any of `masks` (all of one frame's size) covers.
    static func union(_ masks: [LabelMask]) -> LabelMask? {
        guard let first = masks.first else { return nil }
        let covered = masks.dropFirst().reduce(first.pixels) { pixels, mask in zip(pixels, mask.pixels).map { max($0, $1) } }
        return LabelMask(rows: first.rows, columns: first.columns, pixels: covered)
    }
}
