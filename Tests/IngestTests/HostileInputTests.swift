import DICOM
import Foundation
import GRDB
import Synchronization
import TestSupport
import Testing

@testable import Catalog
@testable import Ingest

/// The malformed-input corpus of samples/make_malformed.py, imported once.
final class MalformedCorpus: Sendable {
    static let shared = try! MalformedCorpus()

    let folder: TemporaryFolder
    let inputs: URL
    let catalog: Catalog
    let result: ImportResult
    /// Variant names as the committed manifest lists them.
    let names: [String]

    private init() throws {
        folder = try TemporaryFolder("medsynth-malformed")
        inputs = folder.url.appendingPathComponent("variants")
        let script = Samples.repositoryRoot.appendingPathComponent("samples/make_malformed.py").path
        let generated = try ExternalProcess.run("/usr/bin/python3", [script, inputs.path])
        guard generated.status == 0 else { throw StorageError(reason: generated.standardError, path: script) }
        let manifest = try String(
            contentsOf: Samples.repositoryRoot.appendingPathComponent("samples/malformed.sha256"),
            encoding: .utf8)
        names = manifest.split(separator: "\n").map { String($0.split(separator: " ").last!) }
        catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        result = try Importer(catalog: catalog).run(paths: [inputs.path])
    }

    func path(_ name: String) -> String { inputs.appendingPathComponent(name).path }

    func reason(_ name: String) -> String? {
        result.rejections.first { $0.path == path(name) }?.reason
    }
}

@Suite("Hostile input")
struct HostileInputTests {
    @Test("the corpus is the committed one: at least 1,000 variants, byte for byte")
    func corpusMatchesManifest() throws {
        let corpus = MalformedCorpus.shared
        #expect(corpus.names.count >= 1000)
        let manifest = try String(
            contentsOf: Samples.repositoryRoot.appendingPathComponent("samples/malformed.sha256"),
            encoding: .utf8)
        for line in manifest.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(try FileDigest.sha256(path: corpus.path(String(parts[1]))) == String(parts[0]), "\(parts[1])")
        }
    }

    @Test("every variant is catalogued with every frame decodable, or rejected with a reason naming it; no crash, no hang")
    func everyVariantAccountedFor() throws {
        let corpus = MalformedCorpus.shared
        let rows = try corpus.catalog.read { try InstanceRecord.fetchAll($0) }
        let catalogued = Set(rows.map(\.originalPath))
        let rejected = Set(corpus.result.rejections.map(\.path))
        #expect(catalogued.isDisjoint(with: rejected))
        for name in corpus.names {
            #expect(catalogued.contains(corpus.path(name)) || rejected.contains(corpus.path(name)), "\(name)")
        }
        #expect(catalogued.count + rejected.count == corpus.names.count)
        #expect(corpus.result.summary.skipped == 0 && corpus.result.summary.duplicates == 0)
        // The pre-scan and the decoder turn down every kind here: the worker
        // never dies and never times out on this corpus.
        for rejection in corpus.result.rejections {
            #expect(
                !rejection.reason.contains("crashed") && !rejection.reason.contains("took longer"),
                "\(rejection.path): \(rejection.reason)")
        }
        print(
            "malformed corpus: \(catalogued.count) catalogued, \(rejected.count) rejected, "
                + "\(Set(corpus.result.rejections.map(\.reason)).count) distinct reasons")
        // What is catalogued decodes in full, checked again from the stored copy.
        let worker = DecodeWorker()
        defer { worker.stop() }
        for row in rows {
            let stored = corpus.catalog.storage.absolutePath(relative: row.storedPath)
            #expect(try FileDigest.sha256(path: stored) == row.sha256)
            guard row.decodable else {
                #expect(row.undecodableReason?.contains("DCMTK does not render") == true, "\(row.originalPath)")
                continue
            }
            guard case .instance(let metadata) = try worker.inspect(path: stored) else {
                Issue.record("\(row.originalPath) no longer decodes")
                continue
            }
            #expect(metadata.decodable && metadata.frames == row.frames, "\(row.originalPath)")
        }
        let integrity = try corpus.catalog.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
    }

    @Test("the files that crashed DCMTK are rejected by the pre-scan with their reason")
    func formerCrashes() throws {
        let corpus = MalformedCorpus.shared
        // Nesting that overflowed DCMTK's stack (5,640 and 100,000 levels) and
        // the limit: 15 and 16 levels are read, 17 are not.
        for name in ["nested-emri_small-117.dcm", "nested-emri_small-118.dcm"] {
            #expect(corpus.reason(name) == nil, "\(name): \(corpus.reason(name) ?? "")")
        }
        for name in ["nested-emri_small-119.dcm", "nested-emri_small-121.dcm", "nested-emri_small-122.dcm"] {
            #expect(corpus.reason(name) == "sequences nested deeper than 16 levels", "\(name)")
        }
        // RLE: empty fragments (a NULL dereference in DcmRLECodecDecoder::decodeFrame),
        // lying segment offsets (a heap over-read in DcmRLEDecoder::decompress),
        // and more fragments than the limit.
        #expect(corpus.reason("fragments-emri_small_RLE-123.dcm") == "pixel data fragment 2 is empty")
        #expect(corpus.reason("fragments-emri_small_RLE-124.dcm") == "pixel data fragment 11 is empty")
        #expect(corpus.reason("rle-emri_small_RLE-150.dcm")?.contains("lies outside the fragment") == true)
        #expect(corpus.reason("fragments-emri_small_RLE-127.dcm") == "more than 1000000 pixel data fragments")
        // Later frames empty or garbage while frame 0 is intact: refused by the
        // pre-scan (RLE headers) or by decoding every frame, never catalogued.
        let laterFrames = corpus.names.filter { $0.hasPrefix("later-frames-") }
        #expect(laterFrames.count == 9)
        for name in laterFrames {
            let reason = corpus.reason(name)
            #expect(reason != nil && reason?.hasPrefix("cannot decode frame 0 ") == false, "\(name): \(reason ?? "")")
        }
        #expect(laterFrames.contains { corpus.reason($0)?.hasPrefix("cannot decode frame 1 ") == true })
    }
}

@Suite("Decode worker")
struct DecodeWorkerTests {
    /// A stand-in worker: answers like medsynth-decode-worker, except that it dies
    /// with SIGSEGV on a file containing CRASH and stops answering on one containing HANG.
    static func misbehavingWorker(in folder: TemporaryFolder) throws -> String {
        let source = folder.file("worker.sh.txt"), script = folder.file("worker.sh")
        let worker = DecodeWorker.defaultExecutable()
        try """
        #!/bin/sh
        while read -r request; do
          path=$(printf '%s' "$request" | sed 's/^{"path":"\\(.*\\)"}$/\\1/; s#\\\\/#/#g')
          if grep -q CRASH "$path"; then kill -SEGV $$; fi
          if grep -q HANG "$path"; then exec sleep 600; fi
          printf '%s\\n' "$request" | "\(worker)"
        done
        """.write(toFile: source, atomically: true, encoding: .utf8)
        // The executable is written by another process: a file this one wrote is
        // open for writing in any child other tests fork meanwhile, and exec of it
        // fails with ETXTBSY ("Text file busy") while one of them lives.
        let install = ["install", "-m", "700", source, script]
        let result = try ExternalProcess.run(try ExternalProcess.find(install[0]), Array(install.dropFirst()))
        guard result.status == 0 else { throw ExternalProcess.Failed(command: install, output: result) }
        return script
    }

    @Test("a file that kills the decoder or hangs it is rejected, naming the file; the import goes on")
    func crashAndHangBecomeRejections() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "1-good.dcm")
        for (name, marker) in [("2-crash.dcm", "CRASH"), ("3-hang.dcm", "HANG")] {
            let file = try DicomFile(path: Samples.path("pydicom-data/SC_rgb_2frame.dcm"))
            try file.setString(.sopInstanceUID, DicomUID.make())
            try file.setString(.studyDescription, marker)
            try file.save(to: workspace.input(name))
        }
        try workspace.copySample("pydicom-data/emri_small_RLE.dcm", as: "4-good.dcm")
        let options = ImportOptions(
            jobs: 1, decodeTimeout: .seconds(3),
            workerExecutable: try Self.misbehavingWorker(in: workspace.folder))
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog, options: options).run(paths: [workspace.inputs.path])
        #expect(result.summary.imported == 1)  // 4-good.dcm shares 1-good's UID: a conflict
        #expect(result.summary.rejected == 2)
        let reasons = Dictionary(uniqueKeysWithValues: result.rejections.map { ($0.path, $0.reason) })
        #expect(reasons[workspace.input("2-crash.dcm")] == "the decoder crashed on this file (signal 11, SIGSEGV)")
        #expect(reasons[workspace.input("3-hang.dcm")] == "decoding took longer than 3 s (stopped)")
        #expect(try catalog.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try FileManager.default.contentsOfDirectory(atPath: catalog.storage.incoming.path).isEmpty)
    }

    @Test("no worker executable: the import stops with a reason naming it, nothing stored")
    func missingWorker() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "a.dcm")
        let catalog = try workspace.openCatalog()
        let options = ImportOptions(workerExecutable: workspace.folder.file("no-such-decode-worker"))
        let error = #expect(throws: DecodeWorker.Failure.self) {
            try Importer(catalog: catalog, options: options).run(paths: [workspace.inputs.path])
        }
        #expect(error?.path == workspace.folder.file("no-such-decode-worker"))
        #expect(workspace.storedFiles(catalog).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: catalog.storage.incoming.path).isEmpty)
    }

    @Test("a source rewritten during its import is stored under the digest of the bytes parsed")
    func sourceRewrittenDuringImport() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        // Two versions of each file, same UID, other pixels; a thread swaps them while the import runs.
        var versions: [[Data]] = []
        for index in 0..<120 {
            let file = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
            try file.setString(.sopInstanceUID, "2.25.\(index + 1000)")
            try file.save(to: workspace.input("a.dcm"))
            let first = try Data(contentsOf: URL(fileURLWithPath: workspace.input("a.dcm")))
            var second = first
            second[second.count - 1000] ^= 0xFF
            versions.append([first, second])
            try first.write(to: URL(fileURLWithPath: workspace.input(String(format: "%03d.dcm", index))))
        }
        try FileManager.default.removeItem(atPath: workspace.input("a.dcm"))
        let pairs = versions
        let catalog = try workspace.openCatalog()
        let done = Atomic(false)
        let rewriter = Thread {
            var round = 0
            while !done.load(ordering: .relaxed) {
                for (index, pair) in pairs.enumerated() {
                    // In place, as an editor or a copy over the network would.
                    if let handle = FileHandle(forWritingAtPath: workspace.input(String(format: "%03d.dcm", index))) {
                        handle.write(pair[round % 2])
                        try? handle.close()
                    }
                }
                round += 1
            }
        }
        rewriter.start()
        let result = try Importer(catalog: catalog, options: ImportOptions(batchSize: 8)).run(paths: [workspace.inputs.path])
        done.store(true, ordering: .relaxed)
        #expect(result.summary.imported + result.summary.rejected == versions.count)
        let rows = try catalog.read { try InstanceRecord.fetchAll($0) }
        for row in rows {
            let stored = catalog.storage.absolutePath(relative: row.storedPath)
            #expect(row.storedPath.hasSuffix("\(row.sha256).dcm"))
            #expect(try FileDigest.sha256(path: stored) == row.sha256, "\(row.originalPath)")
            #expect(try InstanceMetadata(file: DicomFile(path: stored)).sopInstanceUID == row.sopInstanceUid)
        }
    }
}
