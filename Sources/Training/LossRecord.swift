import Engine
import Foundation

/// One line of `losses.csv`.
struct LossRecord: Equatable, Sendable {
    var step: Int
    var epoch: Int
    var discriminatorLoss: Float
    var generatorLoss: Float

    static let header = "step,epoch,discriminator_loss,generator_loss"

    static func write(_ records: [LossRecord], to file: URL) throws {
        var text = header + "\n"
        for record in records {
            text += "\(record.step),\(record.epoch),\(record.discriminatorLoss),\(record.generatorLoss)\n"
        }
        do {
            try Data(text.utf8).write(to: file, options: .atomic)
        } catch {
            throw TensorFileError("cannot write the loss log (\(error.localizedDescription))", path: file.path)
        }
    }

    /// The records of a log; none when it does not exist yet.
    static func read(_ file: URL) throws -> [LossRecord] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: ",")
            guard fields.count == 4, let step = Int(fields[0]), let epoch = Int(fields[1]),
                let discriminatorLoss = Float(fields[2]), let generatorLoss = Float(fields[3])
            else {
                throw TensorFileError("unreadable line \"\(line)\"", path: file.path)
            }
            return LossRecord(step: step, epoch: epoch, discriminatorLoss: discriminatorLoss, generatorLoss: generatorLoss)
        }
    }
}
