import DICOM
import Foundation
import GAN
import Imaging
import ModelStore

/// The files a training writes into a model's folder: the checkpoint
/// (`CheckpointFolder`), the loss log and plot, and the sample grids.
public struct ModelFolderWriter {
    public static let lossesFile = "losses.csv"
    public static let lossPlotFile = "losses.png"
    public static let augmentationPlotFile = "augmentation.png"
    public static let samplesFolder = "samples"
    public static let trainingFramesGrid = "training-frames.png"

    let folder: URL
    /// The side of the model's square frames.
    let side: Int

    /// Writes the checkpoint, then the loss log and its plots (the losses;
    /// the augmentation probability p and D's mean sign on real images, r_t);
    /// returns the SHA-256 of the generator file written, which the registry records.
    func writeCheckpoint(_ description: ModelDescription, training: TrainingStep, losses: [LossRecord]) throws -> String {
        try CheckpointFolder.write(description, generator: training.servedGenerator, training: training, to: folder)
        try LossRecord.write(losses, to: folder.appendingPathComponent(Self.lossesFile))
        if losses.count >= 2 {
            try LossPlot(
                steps: losses.map(\.step),
                series: [
                    .init(label: "D", values: losses.map(\.discriminatorLoss), colour: (200, 60, 40)),
                    .init(label: "G", values: losses.map(\.generatorLoss), colour: (40, 90, 200)),
                ]
            ).write(path: folder.appendingPathComponent(Self.lossPlotFile).path)
            var augmentation = LossPlot(
                steps: losses.map(\.step),
                series: [
                    .init(label: "P", values: losses.map { $0.augmentationProbability ?? .nan }, colour: (40, 140, 60)),
                    .init(label: "RT", values: losses.map { $0.realSign ?? .nan }, colour: (200, 60, 40)),
                ])
            (augmentation.axisLabel, augmentation.range) = ("ADA", -1...1)
            try augmentation.write(path: folder.appendingPathComponent(Self.augmentationPlotFile).path)
        }
        return try FileDigest.sha256(path: folder.appendingPathComponent(CheckpointFolder.generatorFile).path)
    }

    /// `samples/step-NNNNNN.png`: generated images, 8 per row.
    func writeSampleGrid(_ images: [Float], count: Int, step: Int) throws {
        try writeGrid(images, count: count, named: String(format: "step-%06d.png", step))
    }

    /// `samples/training-frames.png`: the training frames the grids are compared with.
    func writeTrainingFramesGrid(_ images: [Float], count: Int) throws {
        try writeGrid(images, count: count, named: Self.trainingFramesGrid)
    }

    /// `samples/<name>`: `count` images of the model's resolution, 8 per row.
    private func writeGrid(_ images: [Float], count: Int, named name: String) throws {
        let samples = folder.appendingPathComponent(Self.samplesFolder, isDirectory: true)
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        try SampleGrid.write(images: images, count: count, side: side, columns: 8, path: samples.appendingPathComponent(name).path)
    }
}
