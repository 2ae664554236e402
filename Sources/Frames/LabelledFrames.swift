import Catalog
import DICOM
import Foundation
import Imaging
import TaskModel

/// Keypoint-labelled frames of catalogued instances, prepared as a model's
/// frames are and their keypoints carried through the preparation
/// (`FramePlan.trainingImageAnnotation`): the real frames of the utility
/// measure (docs/evaluation.md, "Utility").
public struct LabelledFrames: Sendable {
    public let set: KeypointSet
    /// The label set whose keypoints these are, and their names in order.
    public let labelSet: String
    public let keypointNames: [String]
    /// Series Instance UIDs, by the series numbers of `set`.
    public let seriesUIDs: [String]

    /// Why labelled frames cannot be loaded.
    public enum LoadError: Error, CustomStringConvertible, Sendable {
        case noKeypoints
        case severalLabelSets([String])
        case unknownLabelSet(String, known: [String])

        public var description: String {
            switch self {
            case .noKeypoints:
                "none of these frames has keypoint annotations (import them as COCO keypoints: docs/catalog.md)"
            case .severalLabelSets(let names):
                "the frames carry keypoints of several label sets (\(names.joined(separator: ", "))): name one with --label-set"
            case .unknownLabelSet(let name, let known):
                "no keypoints of label set \(name) on these frames (they have: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            }
        }
    }

    /// The keypoint annotations of some instances, read from the catalog once,
    /// by instance, in frame order.
    public struct Annotations: Sendable {
        let byInstance: [Int64: [(annotation: AnnotationRecord, labelSet: LabelSetRecord)]]

        public init(of candidates: [TrainingCandidate], catalog: Catalog) throws {
            // Only linked annotations come back, each with its instance.
            byInstance = Dictionary(
                grouping: try catalog.keypointAnnotations(instanceIDs: candidates.map(\.instanceId)), by: { $0.annotation.instanceId ?? -1 }
            )
        }

        /// The label set to use among these keypoint label sets: `requested`,
        /// else the only one. Throws `LoadError` otherwise.
        public func chooseLabelSet(requested: String?) throws -> LabelSetRecord {
            var sets: [String: LabelSetRecord] = [:]
            for (_, labelSet) in byInstance.values.joined() where !labelSet.keypoints.isEmpty { sets[labelSet.name] = labelSet }
            if let requested {
                guard let chosen = sets[requested] else { throw LoadError.unknownLabelSet(requested, known: sets.keys.sorted()) }
                return chosen
            }
            guard let only = sets.values.first else { throw LoadError.noKeypoints }
            guard sets.count == 1 else { throw LoadError.severalLabelSets(sets.keys.sorted()) }
            return only
        }

        /// The annotations of `labelSet` on `candidate`'s frames.
        func of(_ candidate: TrainingCandidate, labelSet: LabelSetRecord) -> [AnnotationRecord] {
            (byInstance[candidate.instanceId] ?? []).filter { $0.labelSet.id == labelSet.id }.map(\.annotation)
        }

        /// The series of `candidates` that hold keypoints of `labelSet`, in
        /// the order their first labelled instance comes.
        public func labelledSeries(_ candidates: [TrainingCandidate], labelSet: LabelSetRecord) -> [String] {
            var series: [String] = []
            for candidate in candidates where !of(candidate, labelSet: labelSet).isEmpty {
                if !series.contains(candidate.seriesInstanceUid) { series.append(candidate.seriesInstanceUid) }
            }
            return series
        }
    }

    /// The frames of `candidates` with keypoints of `labelSet`, at
    /// `preprocessing`'s resolution, in 0...255. A frame with several
    /// objects of the label set gives its first. Series are numbered from
    /// `firstSeries` in order of first appearance.
    public static func load(
        _ candidates: [TrainingCandidate], annotations: Annotations, labelSet: LabelSetRecord, preprocessing: FramePreprocessing,
        catalog: Catalog, firstSeries: Int = 0
    ) throws -> LabelledFrames {
        let side = preprocessing.resolution, names = labelSet.keypoints
        let seriesUIDs = annotations.labelledSeries(candidates, labelSet: labelSet)
        var set = KeypointSet(side: side, keypointCount: names.count)
        for candidate in candidates {
            let labelled = annotations.of(candidate, labelSet: labelSet)
            guard !labelled.isEmpty else { continue }
            let file = try DicomFile(path: catalog.storage.absolutePath(relative: candidate.storedPath))
            let plan = try preprocessing.prepare(file, geometry: file.geometry).plan
            let series = firstSeries + (seriesUIDs.firstIndex(of: candidate.seriesInstanceUid) ?? 0)
            var seenFrames = Set<Int>()
            for annotation in labelled where seenFrames.insert(annotation.frameNumber).inserted {
                let gray = try file.grayFrame(annotation.frameNumber - 1)
                let frameAnnotation = FrameAnnotation(
                    label: labelSet.name, keypoints: FrameAnnotation.keypoints(flat: annotation.keypointValues ?? [], names: names),
                    skeleton: [], mask: nil)
                let prepared = plan.trainingImageAnnotation(frameAnnotation, side: side)
                guard prepared.keypoints.count == names.count else { continue }
                set.append(
                    image: plan.trainingImage(gray.pixels, frameWidth: gray.width, side: side),
                    keypoints: prepared.keypoints.flatMap { [Float($0.x), Float($0.y)] },
                    labelled: prepared.keypoints.map(\.isLabelled), series: series)
            }
        }
        return LabelledFrames(set: set, labelSet: labelSet.name, keypointNames: names, seriesUIDs: seriesUIDs)
    }
}
