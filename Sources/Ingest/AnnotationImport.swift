import Catalog
import DICOM
import Foundation
import GRDB
import Imaging

#if canImport(Glibc)
    import Glibc
#endif

/// Imports COCO annotation files into the catalog, after the DICOM files of
/// the same run (so that a folder holding both links them). A file is
/// imported whole or not at all: one bad entry refuses the file, with every
/// entry that is wrong and why, and nothing stored changes (docs/catalog.md).
struct AnnotationFileImport {
    let catalog: Catalog
    let runID: Int64

    /// Larger files are refused before they are read.
    static let largestFile = 256 << 20
    /// Problems listed per refused file; the rest are counted.
    static let problemsListed = 20

    enum Outcome: Equatable {
        /// Stored; `replaced` annotations came from an earlier version of the
        /// same path; `alreadyCatalogued` were left out, as another file gave them.
        case imported(annotations: Int, replaced: Int, alreadyCatalogued: Int)
        /// The same content is catalogued already.
        case duplicate
        /// JSON that is not a COCO annotation file.
        case skipped
        /// Refused: each reason names its entry.
        case rejected([String])
    }

    /// Whether `path` is a candidate annotation file (by its name: COCO files are `.json`).
    static func isCandidate(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".json")
    }

    /// Imports one file. Throws only when the catalog cannot be written.
    func importFile(_ path: String) throws -> Outcome {
        var status = stat()
        guard stat(path, &status) == 0 else { return .rejected(["cannot read (\(String(cString: strerror(errno))))"]) }
        guard Int(status.st_size) <= Self.largestFile else {
            return .rejected(["\(status.st_size) bytes, more than an annotation file may have (\(Self.largestFile >> 20) MiB)"])
        }
        let staged: ManagedStorage.StagedFile
        do {
            staged = try catalog.storage.stage(source: path, fileExtension: "json")
        } catch {
            return .rejected(["\(error)"])
        }
        defer { catalog.storage.discard([staged]) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: staged.stagedPath))
        } catch {
            return .rejected(["cannot read (\(error.localizedDescription))"])
        }
        switch CocoFile.read(data) {
        case .otherJSON: return .skipped
        case .unreadable(let reason): return .rejected([reason])
        case .coco(let coco): return try store(coco, path: path, staged: staged)
        }
    }

    /// Checks `coco` against the catalog and, when every entry is right,
    /// publishes its copy and stores its label sets and annotations in one transaction.
    private func store(_ coco: CocoFile, path: String, staged: ManagedStorage.StagedFile) throws -> Outcome {
        var published = false
        // Copies of earlier versions of the same path, removed once the commit holds.
        var replacedCopies: [String] = []
        do {
            let outcome = try catalog.write { db -> Outcome in
                if try AnnotationSourceRecord.filter(Column("sha256") == staged.sha256).fetchCount(db) > 0 { return .duplicate }
                var check = CocoCheck(coco: coco)
                try check.run(db)
                guard check.problems.isEmpty else { return .rejected(check.listedProblems) }
                let earlier = try AnnotationSourceRecord.filter(Column("kind") == AnnotationSourceKind.coco && Column("path") == path)
                    .fetchAll(db)
                var replaced = 0
                for source in earlier {
                    replaced += try AnnotationRecord.filter(Column("source_id") == source.id).fetchCount(db)
                    _ = try source.delete(db)
                }
                try catalog.storage.publish([staged])
                published = true
                var source = AnnotationSourceRecord(
                    kind: .coco, path: path, sha256: staged.sha256,
                    storedPath: catalog.storage.relativePath(sha256: staged.sha256, fileExtension: "json"), importRunId: runID)
                try source.insert(db)
                let labelSetIDs = try check.storeLabelSets(db)
                var alreadyCatalogued = 0
                for var annotation in check.annotations {
                    annotation.sourceId = source.id!
                    annotation.labelSetId = labelSetIDs[annotation.labelSetId]!
                    if try annotation.isCatalogued(db) {
                        alreadyCatalogued += 1
                    } else {
                        try annotation.insert(db)
                    }
                }
                replacedCopies = earlier.map(\.storedPath).filter { $0 != source.storedPath }
                return .imported(
                    annotations: check.annotations.count - alreadyCatalogued, replaced: replaced, alreadyCatalogued: alreadyCatalogued)
            }
            for copy in replacedCopies { unlink(catalog.storage.absolutePath(relative: copy)) }
            return outcome
        } catch {
            if published { unlink(staged.finalPath) }
            throw error
        }
    }
}

/// The checks of one COCO file against the catalog, and the rows it makes.
private struct CocoCheck {
    let coco: CocoFile
    private(set) var problems: [String] = []
    /// Rows to insert; `labelSetId` holds the category id until `storeLabelSets` maps it.
    private(set) var annotations: [AnnotationRecord] = []
    private var categories: [Int: CocoFile.Category] = [:]
    private var existingLabelSets: [String: LabelSetRecord] = [:]

    init(coco: CocoFile) { self.coco = coco }

    var listedProblems: [String] {
        let listed = Array(problems.prefix(AnnotationFileImport.problemsListed))
        let more = problems.count - listed.count
        return listed + (more > 0 ? ["and \(more) more problem\(more == 1 ? "" : "s") in this file"] : [])
    }

    /// A frame the file labels, as the catalog has it.
    private struct LabelledFrame {
        let instance: InstanceRecord
        let frameNumber: Int
    }

    mutating func run(_ db: Database) throws {
        try checkCategories(db)
        let frames = try checkImages(db)
        for annotation in coco.annotations { check(annotation, frames: frames) }
    }

    private mutating func checkCategories(_ db: Database) throws {
        let names = coco.categories.map(\.name)
        for labelSet in try LabelSetRecord.filter(names.contains(Column("name"))).fetchAll(db) {
            existingLabelSets[labelSet.name] = labelSet
        }
        for category in coco.categories {
            guard categories[category.id] == nil else {
                problems.append("category \(category.id): its id is given twice")
                continue
            }
            if categories.values.contains(where: { $0.name == category.name }) {
                problems.append("category \(category.id): the name \(category.name) is given to another category too")
            }
            categories[category.id] = category
            let keypoints = category.keypoints ?? []
            let skeleton = category.skeleton ?? []
            for pair in skeleton where pair.count != 2 || !pair.allSatisfy({ $0 >= 1 && $0 <= keypoints.count }) {
                problems.append(
                    "category \(category.id) (\(category.name)): skeleton pair \(pair) does not join two of its \(keypoints.count) keypoints (numbered from 1)"
                )
            }
            if let stored = existingLabelSets[category.name], !stored.isMasksOnly,
                stored.keypoints != keypoints || stored.skeletonPairs != skeleton
            {
                problems.append(
                    "category \(category.id) (\(category.name)): its keypoints [\(keypoints.joined(separator: ", "))] and skeleton "
                        + "differ from the catalog's label set \(category.name) [\(stored.keypoints.joined(separator: ", "))]; "
                        + "a label set is stored once (rename the category, or give the same keypoints)")
            }
        }
    }

    private mutating func checkImages(_ db: Database) throws -> [Int: LabelledFrame] {
        let uids = Set(coco.images.compactMap(\.sopInstanceUid))
        var instances: [String: InstanceRecord] = [:]
        for instance in try InstanceRecord.filter(uids.contains(Column("sop_instance_uid"))).fetchAll(db) {
            instances[instance.sopInstanceUid] = instance
        }
        var frames: [Int: LabelledFrame] = [:]
        for image in coco.images {
            guard let uid = image.sopInstanceUid else {
                problems.append(
                    "image \(image.id): no sop_instance_uid (each image names its DICOM frame by sop_instance_uid and frame_number)")
                continue
            }
            guard let instance = instances[uid] else {
                problems.append(
                    "image \(image.id): no instance with SOP Instance UID \(uid) in the catalog (import its DICOM file first, or in the same run)"
                )
                continue
            }
            guard let frameNumber = image.frameNumber ?? (instance.frames == 1 ? 1 : nil) else {
                problems.append("image \(image.id): no frame_number, and \(uid) has \(instance.frames) frames (numbered from 1)")
                continue
            }
            guard frameNumber >= 1, frameNumber <= instance.frames else {
                problems.append(
                    "image \(image.id): frame \(frameNumber) of \(uid) does not exist: the instance has \(instance.frames) frame\(instance.frames == 1 ? "" : "s"), numbered from 1"
                )
                continue
            }
            if let width = image.width, let height = image.height, width != instance.columns || height != instance.rows {
                problems.append("image \(image.id): \(width)x\(height) here, but \(uid) is \(instance.columns)x\(instance.rows)")
                continue
            }
            if frames[image.id] != nil { problems.append("image \(image.id): its id is given twice") }
            frames[image.id] = LabelledFrame(instance: instance, frameNumber: frameNumber)
        }
        return frames
    }

    private mutating func check(_ annotation: CocoFile.Annotation, frames: [Int: LabelledFrame]) {
        let entry = "annotation \(annotation.id) (image \(annotation.imageId))"
        guard let category = categories[annotation.categoryId] else {
            problems.append("\(entry): category_id \(annotation.categoryId) is not among the file's categories")
            return
        }
        guard let frame = frames[annotation.imageId] else {
            // An image that failed its own check has its problem listed already.
            if !coco.images.contains(where: { $0.id == annotation.imageId }) {
                problems.append("\(entry): image_id \(annotation.imageId) is not among the file's images")
            }
            return
        }
        let width = frame.instance.columns, height = frame.instance.rows
        let names = category.keypoints ?? []
        let before = problems.count
        var keypoints = annotation.keypoints
        if let values = keypoints {
            if values.allSatisfy({ $0 == 0 }) && names.isEmpty {
                keypoints = nil  // exporters write [] or zeros for an object without keypoints
            } else {
                checkKeypoints(values, names: names, category: category, entry: entry, width: width, height: height)
            }
        }
        let mask = self.mask(of: annotation, entry: entry, frame: frame)
        if keypoints == nil && mask == nil && problems.count == before {
            problems.append("\(entry): neither keypoints nor a mask (medsynth stores keypoints and masks, not boxes alone)")
        }
        guard problems.count == before else { return }
        annotations.append(
            AnnotationRecord(
                sourceId: 0, entry: "annotation \(annotation.id)", labelSetId: Int64(category.id),
                sopInstanceUid: frame.instance.sopInstanceUid, frameNumber: frame.frameNumber, instanceId: frame.instance.id,
                keypoints: keypoints, mask: mask))
    }

    /// The mask of `annotation` on `frame`, or nil (none, or problems listed).
    private mutating func mask(of annotation: CocoFile.Annotation, entry: String, frame: LabelledFrame) -> LabelMask? {
        let width = frame.instance.columns, height = frame.instance.rows
        switch annotation.segmentation {
        case .polygons(let polygons) where !polygons.isEmpty:
            for polygon in polygons {
                if polygon.count < 6 || polygon.count % 2 != 0 {
                    problems.append("\(entry): a polygon needs at least three x, y pairs; this one has \(polygon.count) numbers")
                } else if let outside = stride(from: 0, to: polygon.count, by: 2).first(where: {
                    !LabelledKeypoint.liesOnFrame(x: polygon[$0], y: polygon[$0 + 1], width: width, height: height)
                }) {
                    problems.append(
                        "\(entry): polygon point (\(Table.number(polygon[outside])), \(Table.number(polygon[outside + 1]))) "
                            + "is outside the \(width)x\(height) frame \(Self.range(width: width, height: height))")
                }
            }
            return LabelMask(polygons: polygons, rows: height, columns: width)
        case .runLengths(let counts, let size):
            guard size == [height, width] else {
                let stated = size.count == 2 ? "\(size[1])x\(size[0])" : "of size \(size)"
                problems.append(
                    "\(entry): RLE mask is \(stated), but frame \(frame.frameNumber) of \(frame.instance.sopInstanceUid) is \(width)x\(height)"
                )
                return nil
            }
            do {
                let list: [Int]
                switch counts {
                case .list(let values): list = values
                case .compressed(let text): list = try LabelMask.cocoCounts(compressed: text)
                }
                return try LabelMask(cocoCounts: list, rows: height, columns: width)
            } catch {
                problems.append("\(entry): \(error)")
                return nil
            }
        case .polygons, nil:
            return nil
        }
    }

    private mutating func checkKeypoints(
        _ values: [Double], names: [String], category: CocoFile.Category, entry: String, width: Int, height: Int
    ) {
        guard values.count % 3 == 0 else {
            problems.append("\(entry): keypoints has \(values.count) numbers, not triples x, y, v")
            return
        }
        guard values.count / 3 == names.count else {
            problems.append(
                "\(entry): \(values.count / 3) keypoint\(values.count == 3 ? "" : "s"), but category \(category.name) has \(names.count)"
                    + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))"))
            return
        }
        for index in 0..<names.count {
            let x = values[3 * index], y = values[3 * index + 1], v = values[3 * index + 2]
            let point = "keypoint \(index + 1) (\(names[index]))"
            guard [0, 1, 2].contains(v) else {
                problems.append("\(entry): \(point) has visibility \(Table.number(v)); COCO's v is 0, 1 or 2")
                continue
            }
            if v > 0, !LabelledKeypoint.liesOnFrame(x: x, y: y, width: width, height: height) {
                problems.append(
                    "\(entry): \(point) at (\(Table.number(x)), \(Table.number(y))) is outside the \(width)x\(height) frame "
                        + Self.range(width: width, height: height))
            }
        }
    }

    /// Stores the file's categories as label sets (new ones only; the others
    /// were checked equal); returns label set ids by category id.
    func storeLabelSets(_ db: Database) throws -> [Int64: Int64] {
        var ids: [Int64: Int64] = [:]
        for category in coco.categories {
            if var stored = existingLabelSets[category.name], let id = stored.id {
                ids[Int64(category.id)] = id
                // A label set known from masks alone (a Segmentation's segment) takes the keypoints the file names.
                if stored.isMasksOnly, let keypoints = category.keypoints, !keypoints.isEmpty {
                    stored = LabelSetRecord(
                        id: id, name: stored.name, supercategory: stored.supercategory ?? category.supercategory,
                        keypointNames: keypoints, skeleton: category.skeleton ?? [])
                    try stored.update(db)
                }
                continue
            }
            var record = LabelSetRecord(
                name: category.name, supercategory: category.supercategory, keypointNames: category.keypoints ?? [],
                skeleton: category.skeleton ?? [])
            try record.insert(db)
            ids[Int64(category.id)] = record.id
        }
        return ids
    }

    private static func range(width: Int, height: Int) -> String {
        "(x from -0.5 to \(Table.number(Double(width) - 0.5)), y from -0.5 to \(Table.number(Double(height) - 0.5)))"
    }
}
