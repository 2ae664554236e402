import GRDB

/// The catalog's named migrations. A migration is never edited once merged:
/// schema changes add a new one.
enum CatalogSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-studies-and-imports") { db in
            try db.create(table: "import_runs") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started_at", .text).notNull()
                t.column("finished_at", .text)
                t.column("status", .text).notNull()  // running, finished, interrupted, failed
                t.column("paths", .text).notNull()  // JSON array of the paths given
                t.column("files_seen", .integer).notNull().defaults(to: 0)
                t.column("imported", .integer).notNull().defaults(to: 0)
                t.column("duplicates", .integer).notNull().defaults(to: 0)
                t.column("skipped", .integer).notNull().defaults(to: 0)
                t.column("rejected", .integer).notNull().defaults(to: 0)
                t.column("frames", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "patients") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("patient_id", .text).notNull()
                t.column("patient_name", .text).notNull()
                t.column("birth_date", .text)
                t.column("sex", .text)
                t.uniqueKey(["patient_id", "patient_name"])
            }
            try db.create(table: "studies") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("study_instance_uid", .text).notNull().unique()
                t.column("patient_id", .integer).notNull().indexed().references("patients")
                t.column("study_date", .text)
                t.column("study_time", .text)
                t.column("description", .text)
                t.column("accession_number", .text)
            }
            try db.create(table: "series") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("series_instance_uid", .text).notNull().unique()
                t.column("study_id", .integer).notNull().indexed().references("studies")
                t.column("modality", .text)
                t.column("series_number", .integer)
                t.column("description", .text)
                t.column("body_part", .text)
            }
            try db.create(index: "series_on_modality", on: "series", columns: ["modality"])
            try db.create(table: "instances") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("sop_instance_uid", .text).notNull().unique()
                t.column("series_id", .integer).notNull().indexed().references("series")
                t.column("sop_class_uid", .text).notNull()
                t.column("instance_number", .integer)
                t.column("transfer_syntax", .text).notNull()
                t.column("rows", .integer).notNull()
                t.column("columns", .integer).notNull()
                t.column("frames", .integer).notNull()
                t.column("samples_per_pixel", .integer).notNull()
                t.column("photometric_interpretation", .text)
                t.column("bits_allocated", .integer)
                t.column("bits_stored", .integer)
                t.column("pixel_representation", .integer)
                t.column("manufacturer", .text)
                t.column("model_name", .text)
                t.column("burned_in_annotation", .text)
                t.column("image_type", .text)
                t.column("conversion_type", .text)
                t.column("synthetic_data", .text)
                t.column("synthetic", .boolean).notNull()
                t.column("decodable", .boolean).notNull()
                t.column("undecodable_reason", .text)
                t.column("sha256", .text).notNull()
                t.column("stored_path", .text).notNull()
                t.column("original_path", .text).notNull()
                t.column("file_size", .integer).notNull()
                t.column("import_run_id", .integer).notNull().indexed().references("import_runs")
            }
            try db.create(index: "instances_on_sha256", on: "instances", columns: ["sha256"])
            try db.create(index: "instances_on_synthetic", on: "instances", columns: ["synthetic", "decodable"])
            try db.create(table: "duplicates") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("sop_instance_uid", .text).notNull()
                t.column("sha256", .text).notNull()
                t.column("path", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("kept_instance_id", .integer).notNull().indexed().references("instances")
                t.column("import_run_id", .integer).notNull().indexed().references("import_runs")
                t.uniqueKey(["sop_instance_uid", "sha256"])
            }
            try db.create(table: "rejections") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("path", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("import_run_id", .integer).notNull().indexed().references("import_runs")
                t.uniqueKey(["path", "reason"])
            }
        }
        migrator.registerMigration("v2-models") { db in
            try db.create(table: "models") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("modality", .text).notNull()
                t.column("preset", .text).notNull()
                t.column("discriminator", .text).notNull()
                t.column("resolution", .integer).notNull()
                t.column("status", .text).notNull()  // training, stopped, finished, failed
                t.column("steps", .integer).notNull().defaults(to: 0)
                t.column("epochs", .integer).notNull().defaults(to: 0)
                t.column("frame_count", .integer).notNull()
                t.column("validation_frame_count", .integer).notNull()
                t.column("training_set_digest", .text).notNull()
                t.column("checkpoint_digest", .text)
                t.column("folder", .text).notNull()  // relative to the catalog folder
                t.column("created_at", .text).notNull()
                t.column("updated_at", .text).notNull()
            }
            // Lineage: every instance whose frames a model saw, for training or
            // held out for validation. Instances are never deleted while a model
            // refers to them (the foreign key restricts it).
            try db.create(table: "model_instances") { t in
                t.column("model_id", .integer).notNull().references("models", onDelete: .cascade)
                t.column("instance_id", .integer).notNull().indexed().references("instances")
                t.column("role", .text).notNull()  // training, validation
                t.column("frames", .integer).notNull()
                t.primaryKey(["model_id", "instance_id"])
            }
        }
        migrator.registerMigration("v3-syntheses") { db in
            // One `medsynth synthesize` run that wrote DICOM into the catalog.
            // The model may be a folder outside the registry (model_id NULL);
            // its name and checkpoint digest are kept either way.
            try db.create(table: "syntheses") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("model_id", .integer).indexed().references("models", onDelete: .setNull)
                t.column("model_name", .text).notNull()
                t.column("checkpoint_digest", .text).notNull()
                t.column("seed", .text)  // decimal UInt64; NULL when the latents came from a file
                t.column("latents_sha256", .text)  // the --latents file, when given
                t.column("frame_count", .integer).notNull()
                t.column("study_instance_uid", .text).notNull()
                t.column("series_instance_uid", .text).notNull()
                t.column("output_folder", .text).notNull()
                t.column("created_at", .text).notNull()
            }
            // Which latent made each frame of a generated instance.
            try db.create(table: "synthetic_frames") { t in
                t.column("instance_id", .integer).notNull().references("instances", onDelete: .cascade)
                t.column("frame_number", .integer).notNull()  // from 1, as DICOM counts frames
                t.column("synthesis_id", .integer).notNull().indexed().references("syntheses", onDelete: .cascade)
                t.column("latent_index", .integer).notNull()
                t.primaryKey(["instance_id", "frame_number"])
            }
        }
        migrator.registerMigration("v4-evaluations") { db in
            // What `medsynth evaluate` measured for a model (docs/evaluation.md).
            try db.create(table: "evaluations") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("model_id", .integer).notNull().indexed().references("models", onDelete: .cascade)
                t.column("checkpoint_digest", .text).notNull()
                t.column("generated_frames", .integer).notNull()
                t.column("seed", .text).notNull()
                t.column("figures", .text).notNull()  // JSON, the keys of `evaluate --json`
                t.column("report_folder", .text)
                t.column("created_at", .text).notNull()
            }
        }
        migrator.registerMigration("v5-model-backbone") { db in
            // The registry spells the discriminator as model.json does (dcgan,
            // transfer) and names a transfer discriminator's backbone in its own
            // column; v2 to v4 stored "transfer-<backbone>" in one.
            try db.alter(table: "models") { t in t.add(column: "backbone", .text) }
            try db.execute(
                sql: """
                    UPDATE models SET backbone = substr(discriminator, length('transfer-') + 1), discriminator = 'transfer'
                    WHERE discriminator LIKE 'transfer-%'
                    """)
        }
        migrator.registerMigration("v6-replaced-representations") { db in
            // A stored copy that does not decode gives way to a copy of the same
            // instance that does; the replaced copy stays in storage, named here.
            try db.alter(table: "duplicates") { t in t.add(column: "stored_path", .text) }
        }
        migrator.registerMigration("v7-annotations") { db in
            // A kind of labelled object (a COCO category, a segment of a DICOM
            // Segmentation), stored once: its keypoint names in order and skeleton.
            try db.create(table: "label_sets") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("supercategory", .text)
                t.column("keypoint_names", .text).notNull()  // JSON array; [] for a label set of masks only
                t.column("skeleton", .text).notNull()  // JSON array of pairs of keypoint numbers, from 1 as COCO counts
            }
            // A file that annotations came from: a COCO JSON file (its managed
            // copy, named by content) or a DICOM Segmentation instance.
            try db.create(table: "annotation_sources") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()  // coco, seg
                t.column("path", .text).notNull().indexed()  // where it was imported from
                t.column("sha256", .text).notNull().unique()
                t.column("stored_path", .text).notNull()  // relative to the catalog folder
                t.column("instance_id", .integer).unique().references("instances", onDelete: .cascade)  // the SEG instance
                t.column("import_run_id", .integer).notNull().indexed().references("import_runs")
            }
            // One labelled object on one frame. A DICOM Segmentation may arrive
            // before the frames it labels: its rows wait with instance_id NULL
            // and are linked when the instance is imported.
            try db.create(table: "annotations") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("source_id", .integer).notNull().indexed().references("annotation_sources", onDelete: .cascade)
                t.column("entry", .text).notNull()  // where in the source: "annotation 7", "segment 1, frame 2"
                t.column("label_set_id", .integer).notNull().indexed().references("label_sets")
                t.column("sop_instance_uid", .text).notNull().indexed()
                t.column("frame_number", .integer).notNull()  // from 1, as DICOM counts frames
                t.column("instance_id", .integer).references("instances")
                t.column("keypoints", .text)  // JSON [x, y, v, ...] in the frame's pixels, (0, 0) the top-left pixel's centre
                t.column("mask", .blob)  // LabelMask.encoded: run lengths, row by row
                t.column("mask_rows", .integer)
                t.column("mask_columns", .integer)
            }
            try db.create(index: "annotations_on_frame", on: "annotations", columns: ["instance_id", "frame_number"])
        }
        return migrator
    }
}
