import DICOM
import Engine
import Foundation
import Imaging

/// The output folder of a synthesis run: made or reused only when nothing
/// of another run is in it, marked while the run writes, and filled with
/// files that appear complete or not at all.
public enum OutputFolder {
    /// Where a run without `--out` writes: `synthetic/<model>-<UTC date-time>`
    /// under `directory`, with a suffix when a run in the same second took
    /// that name. Characters of the model's name other than letters, digits,
    /// `-` and `_` become `-`.
    public static func defaultLocation(modelName: String, in directory: URL, now: Date = Date()) -> URL {
        let stamp = now.formatted(
            Date.ISO8601FormatStyle(dateSeparator: .omitted, dateTimeSeparator: .standard, timeSeparator: .omitted)
                .year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: false))
        let safeName = String(modelName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        let base = directory.appendingPathComponent("synthetic", isDirectory: true)
        var candidate = base.appendingPathComponent("\(safeName)-\(stamp)", isDirectory: true)
        var suffix = 1
        while FileManager.default.fileExists(atPath: candidate.path) {
            suffix += 1
            candidate = base.appendingPathComponent("\(safeName)-\(stamp)-\(suffix)", isDirectory: true)
        }
        return candidate.standardizedFileURL
    }

    /// Creates `folder`, or accepts it when it exists and is empty, or when it
    /// holds only what an interrupted run wrote (its marker says so; those
    /// files are removed and their number returned): a run never mixes its
    /// files with, or overwrites, those of a finished run or anyone else.
    static func prepare(_ folder: URL) throws -> Int? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw SynthesisError.output("cannot create the output folder (\(error.localizedDescription))", path: folder.path)
            }
            return nil
        }
        guard isDirectory.boolValue else { throw SynthesisError.output("exists and is not a folder", path: folder.path) }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw SynthesisError.output("cannot list the output folder (\(error.localizedDescription))", path: folder.path)
        }
        if entries.isEmpty { return nil }
        guard entries.contains(incompleteMarker), entries.allSatisfy(isRunFile) else {
            throw SynthesisError.output("the output folder is not empty (choose another --out)", path: folder.path)
        }
        for name in entries where name != incompleteMarker {
            guard unlink(folder.appendingPathComponent(name).path) == 0 else {
                throw SynthesisError.output(
                    "cannot remove a file of an interrupted run (\(String(cString: strerror(errno))))",
                    path: folder.appendingPathComponent(name).path)
            }
        }
        unlink(folder.appendingPathComponent(incompleteMarker).path)
        return entries.count - 1
    }

    /// Marks an output folder whose run has not finished.
    public static let incompleteMarker = "synthesis.incomplete"

    /// A name a synthesize run writes: its frames, labels, latents, manifest, marker and temporary files.
    static func isRunFile(_ name: String) -> Bool {
        let base = name.hasSuffix(".partial") ? String(name.dropLast(".partial".count)) : name
        if [incompleteMarker, Synthesizer.manifestFile, Synthesizer.latentsFile, Synthesizer.framesFile, LabelsFile.fileName].contains(base)
        {
            return true
        }
        let image = LabelObjects.imageFile(labelledBy: base) ?? base
        guard image.hasPrefix("synthetic-"), image.hasSuffix(".dcm") || image.hasSuffix(".png") else { return false }
        return image.dropFirst("synthetic-".count).dropLast(4).allSatisfy(\.isNumber)
    }

    /// Writes a file through `<path>.partial` and links it into place without
    /// replacing anything: a file under its final name is always complete,
    /// and no run overwrites another's files. Failures name `path`.
    static func publish(_ path: String, write: (String) throws -> Void) throws {
        let temporary = path + ".partial"
        defer { unlink(temporary) }
        do {
            try write(temporary)
        } catch {
            let reason =
                (error as? DicomError)?.reason ?? (error as? TensorFileError)?.reason ?? (error as? PNGError)?.reason
                ?? error.localizedDescription
            throw SynthesisError.output("cannot write (\(reason))", path: path)
        }
        guard link(temporary, path) == 0 else {
            let reason =
                errno == EEXIST
                ? "a file of this name appeared meanwhile (another run writing here?); it was left alone"
                : "cannot write (\(String(cString: strerror(errno))))"
            throw SynthesisError.output(reason, path: path)
        }
    }

    /// Writes the marker of a run in progress into `folder`.
    static func markIncomplete(_ folder: URL) throws {
        try publish(folder.appendingPathComponent(incompleteMarker).path) {
            try Data(
                """
                An interrupted medsynth synthesize: these files were not registered and have no synthesis.json.
                Run synthesize again with this --out to replace them.

                """.utf8
            ).write(to: URL(fileURLWithPath: $0))
        }
    }

    /// Removes the marker: the run's files are all written and described.
    static func markComplete(_ folder: URL) {
        unlink(folder.appendingPathComponent(incompleteMarker).path)
    }
}
