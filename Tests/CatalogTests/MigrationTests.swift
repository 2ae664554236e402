import Foundation
import GRDB
import Testing

@testable import Catalog

@Suite("Schema migrations")
struct MigrationTests {
    @Test("v5-model-backbone: rows of older catalogs get the one spelling of model.json, the backbone in its own column")
    func modelBackbone() throws {
        let database = try DatabaseQueue()
        try CatalogSchema.migrator.migrate(database, upTo: "v4-evaluations")
        try database.write { db in
            for (name, discriminator) in [("a", "dcgan"), ("b", "transfer-xception"), ("c", "transfer-mobilenetv2")] {
                try db.execute(
                    sql: """
                        INSERT INTO models (name, modality, preset, discriminator, resolution, status, frame_count,
                        validation_frame_count, training_set_digest, folder, created_at, updated_at)
                        VALUES (?, 'US', 'compact', ?, 64, 'finished', 1, 0, 'd', 'models/1', 't', 't')
                        """, arguments: [name, discriminator])
            }
        }
        try CatalogSchema.migrator.migrate(database)
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT name, discriminator, backbone FROM models ORDER BY name")
        }
        #expect(rows.map { $0["discriminator"] as String } == ["dcgan", "transfer", "transfer"])
        #expect(rows.map { $0["backbone"] as String? } == [nil, "xception", "mobilenetv2"])
    }
}
