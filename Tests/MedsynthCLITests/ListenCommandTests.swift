import Catalog
import DICOM
import Foundation
import GRDB
import Ingest
import TestSupport
import Testing

@Suite("listen: a Storage SCP against DCMTK's storescu, echoscu and Orthanc", .serialized)
struct ListenCommandTests {
    /// An instance as the catalog records it, for comparing two catalogs.
    struct CataloguedInstance: Hashable, CustomStringConvertible {
        let sopInstanceUID: String
        let frames: Int
        let decodable: Bool
        var description: String { "\(sopInstanceUID) (\(frames) frames, decodable \(decodable))" }
    }

    static func instances(in catalog: String) throws -> Set<CataloguedInstance> {
        let opened = try Catalog(readingDirectory: URL(fileURLWithPath: catalog))
        return try opened.read { db in
            Set(
                try Row.fetchAll(db, sql: "SELECT sop_instance_uid, frames, decodable FROM instances").map {
                    CataloguedInstance(sopInstanceUID: $0[0], frames: $0[1], decodable: $0[2])
                })
        }
    }

    /// storescu proposes compressed transfer syntaxes one family per run
    /// (its -x options), so the corpus goes in one run per family.
    static let storescuProposals: [String: [String]] = [
        "1.2.840.10008.1.2.4.50": ["-xy"], "1.2.840.10008.1.2.4.70": ["-xs"], "1.2.840.10008.1.2.4.80": ["-xt"],
        "1.2.840.10008.1.2.4.81": ["-xu"], "1.2.840.10008.1.2.4.90": ["-xv"], "1.2.840.10008.1.2.4.91": ["-xw"],
        "1.2.840.10008.1.2.5": ["-xr"], "1.2.840.10008.1.2.1.99": ["-xd"],
    ]

    /// Sends every file below `folder` with storescu, one association per
    /// transfer syntax family, proposing only what the files need (-R: their
    /// own SOP classes, some of which storescu's default list lacks). Returns
    /// the files storescu skips because it cannot read them.
    static func sendWithStorescu(_ folder: String, to port: UInt16) throws -> Set<String> {
        var groups: [[String]: [String]] = [:]
        for file in FileCollector(paths: [folder]).files {
            // What DCMTK cannot open, storescu skips (and names) as well.
            let syntax = (try? DicomFile(path: file).transferSyntax.uid) ?? ""
            groups[storescuProposals[syntax] ?? [], default: []].append(file)
        }
        var skipped: Set<String> = []
        for (proposal, files) in groups {
            let sent = try ExternalProcess.run(
                "storescu", ["-R", "-nh", "-aet", "STORESCU", "-aec", "MEDSYNTH"] + proposal + ["127.0.0.1", "\(port)"] + files,
                environment: ["TCP_NODELAY": "1"])
            for line in sent.standardError.split(separator: "\n") where line.hasSuffix(", ignoring file") {
                skipped.insert(String(line.dropLast(", ignoring file".count).split(separator: " ").last!))
            }
        }
        return skipped
    }

    /// The lines of `text` that report a conflict.
    /// The instances catalogued so far, read while the listener writes (0 before the catalog exists).
    static func instanceCount(in catalog: String) -> Int {
        (try? Catalog(readingDirectory: URL(fileURLWithPath: catalog)).read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM instances") ?? 0
        }) ?? 0
    }

    static func conflicts(_ text: String) -> Set<Substring> {
        Set(text.split(separator: "\n").filter { $0.contains("conflict") })
    }

    @Test("storescu sends the corpus: the catalog equals a folder import; sending again adds nothing and conflicts with nothing stored")
    func corpus() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let imported = folder.file("imported")
        let received = folder.file("received")
        let listener = try MedsynthListener(catalog: received, output: folder.url)
        let skipped = try Self.sendWithStorescu(Samples.root.path, to: listener.port)
        let afterFirst = try Self.instances(in: received)
        let firstConflicts = Self.conflicts(listener.standardError)
        _ = try Self.sendWithStorescu(Samples.root.path, to: listener.port)
        let stopped = listener.interrupt()
        #expect(stopped.status == 3, "\(stopped.standardError)")

        // storescu cannot read two files of the corpus: one whose UIDs are
        // stored as UN, and a truncated one that import rejects too.
        #expect(
            skipped.map { ($0 as NSString).lastPathComponent }.filter { $0.hasSuffix(".dcm") }.sorted() == [
                "emri_small_jpeg_2k_lossless_too_short.dcm", "explicit_VR-UN.dcm",
            ])
        let sendable = FileCollector(paths: [Samples.root.path]).files.filter { !skipped.contains($0) }
        #expect(try Medsynth.run(["import", "--catalog", imported] + sendable).status <= 1)
        let expected = try Self.instances(in: imported)
        #expect(afterFirst == expected, "missing \(expected.subtracting(afterFirst)), extra \(afterFirst.subtracting(expected))")
        #expect(try Self.instances(in: received) == afterFirst)
        // The conflicts are the corpus's own: files that share a UID with
        // another file of different content. The second round finds the same
        // ones, and no copy of an instance it stored.
        #expect(!firstConflicts.isEmpty)
        #expect(Self.conflicts(stopped.standardError) == firstConflicts)
        #expect(stopped.standardOutput.contains("\(afterFirst.count) new"), "\(stopped.standardOutput)")
    }

    @Test("--allow: a calling AE title not listed is rejected at association, as is a call to another AE title")
    func allowList() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let listener = try MedsynthListener(
            catalog: folder.file("catalog"), output: folder.url, options: ["--allow", "MODALITY1,PACS"],
            echoOptions: ["-aet", "PACS"])
        let allowed = try ExternalProcess.run("echoscu", ["-aet", "MODALITY1", "-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"])
        let stranger = try ExternalProcess.run("echoscu", ["-aet", "STRANGER", "-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"])
        let misdirected = try ExternalProcess.run("echoscu", ["-aet", "PACS", "-aec", "OTHER", "127.0.0.1", "\(listener.port)"])
        let stopped = listener.interrupt()
        #expect(allowed.status == 0)
        #expect(stranger.status != 0 && stranger.standardError.contains("Calling AE Title Not Recognized"), "\(stranger.standardError)")
        #expect(misdirected.status != 0 && misdirected.standardError.contains("Called AE Title Not Recognized"))
        #expect(stopped.status == 3)
        #expect(
            stopped.standardError.contains(
                "medsynth: association rejected (calling AE title not allowed (--allow)): association 3 from STRANGER (127.0.0.1)\n"),
            "\(stopped.standardError)")
        #expect(stopped.standardError.contains("association rejected (called AE title not recognized): association 4 from PACS"))
    }

    /// A CA, a certificate it signed for `name`, and the key, as PEM files in `folder`.
    @Test("a connection that sends nothing holds up no association: echoscu is answered meanwhile, and it is closed at --timeout")
    func silentConnection() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let listener = try MedsynthListener(catalog: folder.file("catalog"), output: folder.url, options: ["--timeout", "4"])
        let silent = try SilentConnection(port: listener.port)
        _ = try SilentConnection(port: listener.port)  // released at once: a connection closed without a word
        // Were the request read on the accepting thread, this would wait for the silent one's 4 s.
        let echo = try ExternalProcess.run("echoscu", ["-ta", "2", "-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"])
        let closed = silent.closedByPeer(within: 10)
        let stopped = listener.interrupt()
        #expect(echo.status == 0, "\(echo.standardError)")
        #expect(closed)
        #expect(stopped.status == 3)
        #expect(
            stopped.standardError.contains(
                "association rejected (no association: no association request within the timeout (4 s)): association 2 from 127.0.0.1\n"),
            "\(stopped.standardError)")
        #expect(
            stopped.standardError.contains(
                "association rejected (no association: the peer closed the connection before its association request): association 3 from 127.0.0.1\n"
            ))
        #expect(stopped.standardOutput.contains("association 4 from ECHOSCU (127.0.0.1): released"), "\(stopped.standardOutput)")
    }

    static func makeCertificate(_ name: String, signedBy ca: String?, in folder: TemporaryFolder) throws {
        let key = folder.file("\(name).key"), certificate = folder.file("\(name).pem")
        let subject = "/CN=medsynth-test-\(name)"
        let commands: [[String]] =
            if let ca {
                [
                    ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", folder.file("\(name).csr"), "-subj", subject],
                    [
                        "x509", "-req", "-in", folder.file("\(name).csr"), "-CA", folder.file("\(ca).pem"), "-CAkey",
                        folder.file("\(ca).key"), "-CAcreateserial", "-out", certificate, "-days", "2",
                    ],
                ]
            } else {
                [["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2", "-subj", subject]]
            }
        for arguments in commands {
            let made = try ExternalProcess.run("openssl", arguments)
            guard made.status == 0 else { throw ExternalProcess.Failed(command: ["openssl"] + arguments, output: made) }
        }
    }

    @Test("DICOM TLS with --tls-ca: a peer with a certificate the CA signed is served; a wrong certificate or plain TCP fails")
    func tls() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try Self.makeCertificate("ca", signedBy: nil, in: folder)
        try Self.makeCertificate("server", signedBy: "ca", in: folder)
        try Self.makeCertificate("client", signedBy: "ca", in: folder)
        try Self.makeCertificate("rogue", signedBy: nil, in: folder)
        func echo(_ tls: [String], port: UInt16) throws -> ProcessOutput {
            try ExternalProcess.run("echoscu", tls + ["-aec", "MEDSYNTH", "127.0.0.1", "\(port)"])
        }
        let client = ["+tls", folder.file("client.key"), folder.file("client.pem"), "+cf", folder.file("ca.pem")]
        let listener = try MedsynthListener(
            catalog: folder.file("catalog"), output: folder.url,
            options: ["--tls-cert", folder.file("server.pem"), "--tls-key", folder.file("server.key"), "--tls-ca", folder.file("ca.pem")],
            echoOptions: client)
        let trusted = try echo(client, port: listener.port)
        let rogue = try echo(
            ["+tls", folder.file("rogue.key"), folder.file("rogue.pem"), "+cf", folder.file("ca.pem")], port: listener.port)
        let plain = try echo([], port: listener.port)
        let stopped = listener.interrupt()
        #expect(trusted.status == 0, "\(trusted.standardError)")
        #expect(rogue.status != 0)
        #expect(plain.status != 0)
        #expect(stopped.status == 3)
        #expect(stopped.standardOutput.contains("(DICOM TLS)"))
        #expect(stopped.standardError.contains("association rejected (no association: "), "\(stopped.standardError)")
        // A key that does not match its certificate stops listen before it listens.
        let mismatched = try Medsynth.run([
            "listen", "--catalog", folder.file("catalog"), "--port", "\(try StoreSCP.freePort())",
            "--tls-cert", folder.file("server.pem"), "--tls-key", folder.file("client.key"),
        ])
        #expect(mismatched.status == 81)
        #expect(mismatched.standardError.contains("the TLS private key does not match the certificate: \(folder.file("server.pem"))"))
    }

    /// Writes `count` copies of a small MR image into `folder`, each its own
    /// instance; returns file name -> SOP Instance UID.
    static func writeInstances(_ count: Int, into folder: URL) throws -> [String: String] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        var uids: [String: String] = [:]
        let root = "2.25.\(UInt64.random(in: 1...UInt64.max))"
        for index in 0..<count {
            let uid = "\(root).\(index)"
            let name = String(format: "mr-%04d.dcm", index)
            try source.setString(.sopInstanceUID, uid)
            try source.save(to: folder.appendingPathComponent(name).path)
            uids[name] = uid
        }
        return uids
    }

    @Test(
        "listen killed with SIGKILL in the middle of a 1,000-instance association: the catalog is consistent and holds every acknowledged instance"
    )
    func killedMidAssociation() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let files = folder.url.appendingPathComponent("files")
        let uids = try Self.writeInstances(1000, into: files)
        let catalog = folder.file("catalog")
        let listener = try MedsynthListener(catalog: catalog, output: folder.url)
        // storescu -v names on stderr each file it sends and then the response it got.
        let senderOutput = folder.url.appendingPathComponent("storescu")
        try FileManager.default.createDirectory(at: senderOutput, withIntermediateDirectories: true)
        let log = senderOutput.appendingPathComponent("stderr.txt")
        let sender = try PeerProcess(
            "storescu",
            ["-v", "-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"] + uids.keys.sorted().map { files.appendingPathComponent($0).path },
            output: senderOutput)
        func acknowledged() -> [String] {
            let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
            var sending: String?
            var names: [String] = []
            for line in lines {
                if line.hasPrefix("I: Sending file: ") {
                    sending = (String(line.dropFirst("I: Sending file: ".count)) as NSString).lastPathComponent
                }
                if line.hasPrefix("I: Received Store Response (Success)"), let name = sending { names.append(name) }
            }
            return names
        }
        // storescu's log reaches the file only when it exits: the catalog tells how far it got.
        for _ in 0..<1200 where Self.instanceCount(in: catalog) < 200 && sender.isRunning { usleep(50_000) }
        listener.kill()
        _ = sender.waitForExit()
        let acknowledgedUIDs = Set(acknowledged().map { uids[$0]! })
        #expect(acknowledgedUIDs.count >= 200 && acknowledgedUIDs.count < 1000, "\(acknowledgedUIDs.count)")

        // As the kill left it: a sound database, every row's copy present.
        let left = try Catalog(readingDirectory: URL(fileURLWithPath: catalog))
        let (integrity, storedPaths, catalogued) = try left.read { db in
            (
                try String.fetchAll(db, sql: "PRAGMA integrity_check"), try String.fetchAll(db, sql: "SELECT stored_path FROM instances"),
                Set(try String.fetchAll(db, sql: "SELECT sop_instance_uid FROM instances"))
            )
        }
        #expect(integrity == ["ok"])
        #expect(storedPaths.allSatisfy { FileManager.default.fileExists(atPath: left.storage.absolutePath(relative: $0)) })
        #expect(acknowledgedUIDs.isSubset(of: catalogued), "\(acknowledgedUIDs.subtracting(catalogued).count) acknowledged but missing")
        // The next writer removes what was received or published but not committed.
        let reopened = try Catalog(directory: URL(fileURLWithPath: catalog), create: false)
        let referenced = try reopened.read { db in Set(try String.fetchAll(db, sql: "SELECT stored_path FROM instances")) }
        let storage = reopened.storage.root.path
        let remaining = FileManager.default.enumerator(atPath: storage)!.compactMap { $0 as? String }.filter {
            $0.hasSuffix(".dcm") || $0.hasSuffix(".part")
        }
        #expect(Set(remaining.map { "storage/" + $0 }) == referenced)
        #expect(try FileManager.default.contentsOfDirectory(atPath: reopened.storage.incoming.path).isEmpty)
        let runs = try reopened.read { db in try String.fetchAll(db, sql: "SELECT status FROM import_runs") }
        #expect(runs == ["interrupted"])
    }

    @Test("Orthanc sends studies to listen (REST /modalities/{id}/store): they arrive in the catalog")
    func fromOrthanc() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        let listener = try MedsynthListener(catalog: catalog, output: folder.url)
        let pacsFolder = folder.url.appendingPathComponent("orthanc")
        try FileManager.default.createDirectory(at: pacsFolder, withIntermediateDirectories: true)
        let orthanc = try OrthancPeer(folder: pacsFolder, modalities: ["medsynth": ("MEDSYNTH", listener.port)])
        defer { orthanc.stop() }
        let files = ["pydicom-data/US1_UNCI.dcm", "pydicom-data/emri_small.dcm", "deid-data/humans/ctbrain1.dcm"].map(Samples.path)
        var studies: [String] = []
        for file in files {
            let answer = try JSONSerialization.jsonObject(with: try orthanc.post("/instances", body: "@\(file)")) as? [String: Any]
            studies.append(try #require(answer?["ParentStudy"] as? String))
        }
        let studyList = String(decoding: try JSONSerialization.data(withJSONObject: studies), as: UTF8.self)
        let stored = try orthanc.post("/modalities/medsynth/store", body: studyList)
        let stopped = listener.interrupt()
        #expect(stopped.status == 3, "\(stopped.standardError)")
        // Orthanc opens one association per group of presentation contexts it proposes.
        #expect(stopped.standardOutput.contains("from ORTHANC (127.0.0.1): released"))
        #expect(
            stopped.standardOutput.contains("3 instances received, 3 new"),
            "\(stopped.standardOutput) \(String(decoding: stored, as: UTF8.self))")
        let expected = Set(try files.map { try #require(try DicomFile(path: $0).string(.sopInstanceUID)) })
        #expect(Set(try Self.instances(in: catalog).map(\.sopInstanceUID)) == expected)
    }

    @Test(
        "--max-associations 1: echoscu is rejected while storescu is served; past 16 connections waiting for their request, one more is closed at once; a stop closes those waiting"
    )
    func limits() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let files = folder.url.appendingPathComponent("files")
        let uids = try Self.writeInstances(300, into: files)
        let catalog = folder.file("catalog")
        let listener = try MedsynthListener(catalog: catalog, output: folder.url, options: ["--max-associations", "1"])
        let sender = try PeerProcess(
            "storescu",
            ["-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"] + uids.keys.sorted().map { files.appendingPathComponent($0).path })
        for _ in 0..<600 where Self.instanceCount(in: catalog) < 10 && sender.isRunning { usleep(50_000) }
        let busy = try ExternalProcess.run("echoscu", ["-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"])
        let senderStatus = sender.waitForExit()
        usleep(500_000)  // the sender's association thread ends after its release
        let waiting = try (0..<17).map { _ in try SilentConnection(port: listener.port) }
        let oneMore = try SilentConnection(port: listener.port)
        let closedAtOnce = oneMore.closedByPeer(within: 5)
        let keptWaiting = !waiting[16].closedByPeer(within: 0.5)
        let stopped = listener.interrupt()
        #expect(busy.status != 0)
        #expect(senderStatus == 0)
        #expect(Set(try Self.instances(in: catalog).map(\.sopInstanceUID)) == Set(uids.values))
        #expect(closedAtOnce && keptWaiting)
        #expect(waiting.allSatisfy { $0.closedByPeer(within: 5) })
        #expect(stopped.status == 3)
        #expect(
            stopped.standardError.contains(
                "association rejected (too many associations at once (1)): association 3 from ECHOSCU (127.0.0.1)\n"),
            "\(stopped.standardError)")
        #expect(
            stopped.standardError.contains(
                "association rejected (too many connections at once (17): closed before its association request): association 21 from 127.0.0.1\n"
            ))
        #expect(stopped.standardError.components(separatedBy: "(no association: the listener is stopping)").count - 1 == 17)
    }

    @Test(
        "--max-instance-mib 1: a 13 MB cine aborts its association as it arrives, and nothing of it stays; the instance before it is kept")
    func instanceSizeLimit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        let listener = try MedsynthListener(catalog: catalog, output: folder.url, options: ["--max-instance-mib", "1"])
        let small = Samples.path("pydicom-data/emri_small.dcm"), cine = Samples.path("deid-data/GREYSCALE_CINE.dcm")
        let sender = try ExternalProcess.run("storescu", ["-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)", small, cine])
        let stopped = listener.interrupt()
        #expect(sender.status != 0)
        #expect(stopped.status == 3)
        #expect(
            stopped.standardOutput.contains("aborted (a data set of more than 1048576 bytes (--max-instance-mib)), 1 instances stored"),
            "\(stopped.standardOutput)")
        #expect(try Self.instances(in: catalog).map(\.sopInstanceUID) == [try #require(try DicomFile(path: small).string(.sopInstanceUID))])
        let left = FileManager.default.enumerator(atPath: catalog)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".part") }
        #expect(left == [])
    }

    @Test("four associations at once: every instance is catalogued; --json summary")
    func concurrentAssociations() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let files = folder.url.appendingPathComponent("files")
        let uids = try Self.writeInstances(200, into: files)
        let catalog = folder.file("catalog")
        let listener = try MedsynthListener(catalog: catalog, output: folder.url, options: ["--max-associations", "4", "--json"])
        let names = uids.keys.sorted()
        let senders = try (0..<4).map { part in
            try PeerProcess(
                "storescu",
                ["-aec", "MEDSYNTH", "127.0.0.1", "\(listener.port)"]
                    + names[(part * 50)..<((part + 1) * 50)].map { files.appendingPathComponent($0).path })
        }
        let statuses = senders.map { $0.waitForExit() }
        let stopped = listener.interrupt()
        #expect(statuses == [0, 0, 0, 0])
        #expect(stopped.status == 3)
        #expect(Set(try Self.instances(in: catalog).map(\.sopInstanceUID)) == Set(uids.values))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(stopped.standardOutput.utf8)) as? [String: Any])
        #expect(summary["associations"] as? Int == 5)  // the four, and the readiness C-ECHO
        #expect((summary["summary"] as? [String: Any])?["imported"] as? Int == 200)
        #expect(stopped.standardError.contains("released, 50 instances stored, 0 failed"), "\(stopped.standardError)")
    }
}
