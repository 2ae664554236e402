import Engine
import Foundation

/// One line of `losses.csv`.
struct LossRecord: Equatable, Sendable {
    var step: Int
    var epoch: Int
    var discriminatorLoss: Float
    var generatorLoss: Float
    /// The chance an image had of each augmentation (`StepResult`); nil in
    /// lines written before it was logged.
    var augmentationProbability: Float?
    /// The mean sign of D's logits on the step's real images, ADA's r_t on one batch; nil in older lines.
    var realSign: Float?

    static let header = "step,epoch,discriminator_loss,generator_loss,augment_probability,real_sign"

    static func write(_ records: [LossRecord], to file: URL) throws {
        var text = header + "\n"
        for record in records {
            let optional = [record.augmentationProbability, record.realSign].map { $0.map { "\($0)" } ?? "" }
            text += "\(record.step),\(record.epoch),\(record.discriminatorLoss),\(record.generatorLoss),"
            text += optional.joined(separator: ",") + "\n"
        }
        do {
            try Data(text.utf8).write(to: file, options: .atomic)
        } catch {
            throw TensorFileError("cannot write the loss log (\(error.localizedDescription))", path: file.path)
        }
    }

    /// The records of a log (four fields per line in logs written before
    /// the augmentation was logged, six since); none when it does not exist yet.
    static func read(_ file: URL) throws -> [LossRecord] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 4 || fields.count == 6, let step = Int(fields[0]), let epoch = Int(fields[1]),
                let discriminatorLoss = Float(fields[2]), let generatorLoss = Float(fields[3])
            else {
                throw TensorFileError("unreadable line \"\(line)\"", path: file.path)
            }
            var record = LossRecord(step: step, epoch: epoch, discriminatorLoss: discriminatorLoss, generatorLoss: generatorLoss)
            if fields.count == 6 { (record.augmentationProbability, record.realSign) = (Float(fields[4]), Float(fields[5])) }
            return record
        }
    }
}
