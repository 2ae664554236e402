import Catalog
import Training

/// The real frames of a registered model, in data set order, as the
/// evaluation and the export's privacy gate compare generated frames with them.
public struct ModelFrameSets: Sendable {
    public let side: Int
    public let all: FrameMatrix
    /// The series of each frame of `all`, numbered from 0.
    public let series: [Int]
    /// The Patient ID of each frame of `all`, nil when the instance names none.
    public let patients: [String?]
    public let trainingIndices: [Int]
    public let validationIndices: [Int]
    public let training: FrameMatrix
    public let validation: FrameMatrix

    /// Loads (from the frame cache when present) the frames the model's
    /// lineage names, checked against its training-set digest.
    public static func load(_ model: SynthesisModel, record: ModelRecord, catalog: Catalog) throws -> ModelFrameSets {
        let (dataset, split) = try ModelTrainer.frames(of: record, description: model.description, catalog: catalog)
        let all = FrameMatrix(pixels: dataset.resolution * dataset.resolution, values: dataset.values)
        let (training, validation) = split.frames(of: dataset)
        let patients = dataset.frameInstance.map { dataset.instances[$0].patientId.isEmpty ? nil : dataset.instances[$0].patientId }
        return ModelFrameSets(side: dataset.resolution, all: all, series: dataset.frameSeriesNumbers, patients: patients,
                              trainingIndices: training, validationIndices: validation, training: all.rows(training),
                              validation: all.rows(validation))
    }

    /// The copy detector over the training frames. The validation frames
    /// stay out of it, so that how often it flags them is an honest false
    /// positive rate.
    public func copyDetector(radius: Float = CopyDetector.defaultRadius) -> CopyDetector {
        CopyDetector(training: training, series: trainingIndices.map { series[$0] }, patients: trainingIndices.map { patients[$0] },
                     radius: radius)
    }
}
