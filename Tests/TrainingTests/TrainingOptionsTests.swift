import GAN
import Testing
import Training

@Suite("train's options")
struct TrainingOptionsTests {
    @Test(
        "the relativistic loss and the penalty are the dcgan discriminator's defaults; transfer and projected keep the paper's loss unless asked"
    )
    func lossDefaultsByDiscriminator() {
        var options = TrainingOptions()
        options.modality = "US"
        let dcgan = options.request(processors: 1)
        #expect(dcgan.adversarialLoss == .relativistic && dcgan.gradientPenalty == 0.1)
        #expect(dcgan.adaptiveAugmentation.target == 0.6)
        options.discriminator = .projected
        let projected = options.request(processors: 1)
        #expect(projected.adversarialLoss == .nonSaturating && projected.gradientPenalty == nil)
        options.loss = .relativistic
        options.gradientPenalty = 0.3
        let asked = options.request(processors: 1)
        #expect(asked.adversarialLoss == .relativistic && asked.gradientPenalty == 0.3)
        options.discriminator = .transfer
        options.backbone = .xception
        options.backboneWeights = "/weights/xception_notop.h5"
        options.loss = nil
        options.gradientPenalty = nil
        let transfer = options.request(processors: 1)
        #expect(transfer.adversarialLoss == .nonSaturating && transfer.gradientPenalty == nil)
        options.discriminator = .dcgan
        options.backbone = nil
        options.backboneWeights = nil
        options.loss = .nonSaturating
        options.gradientPenalty = 0
        let paper = options.request(processors: 1)
        #expect(paper.adversarialLoss == .nonSaturating && paper.gradientPenalty == nil)
    }
}
