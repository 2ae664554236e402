#!/usr/bin/env python3
"""PyTorch twin of `medsynth bench --scenario compact|paper`, for timing the two side by side.

    python scripts/bench_pytorch.py --scenario compact|paper [--steps N] [--threads N] [--json]

Mirrors Sources/GAN/StepBenchmark.swift with torch.nn on NCHW float32 tensors:

- the generator preset of the scenario (Sources/GAN/Generator.swift) as the
  benchmark builds it: transposed-convolution upsampling, no noise inputs,
  LeakyReLU(0.2); compact is C0 = 256 with levels 4, 3, 2, 1 (64 x 64,
  batch 32), paper is C0 = 512 with levels 6 ... 1 (256 x 256, batch 8);
- the `dcgan` discriminator (Sources/GAN/Discriminator.swift) without the
  minibatch standard deviation layer;
- one step of Sources/GAN/TrainingStep.swift: D on the real batch (label 1)
  and on the detached generated batch (label 0), mean BCE on logits, one
  backward after each forward, Adam on D; then the same generated batch
  through the updated D with label 1, gradients into G only, Adam on G.
  Adam: lr 2e-4, betas (0.5, 0.999), eps 1e-8 for both;
- a fixed "real" batch uniform in [-1, 1], fresh standard normal latents
  (128) every step, 2 warm-up steps, then --steps timed steps (default 10).

Initialisation is PyTorch's default, which the engine reproduces
(U(+-1/sqrt(fan_in)) weights and biases, BatchNorm gamma 1 and beta 0).
The parameter counts printed are the trainable ones, as the engine's store
counts them (1,812,961 and 2,764,481 for compact). images/s is batch /
seconds per step, as StepBenchmark reports it. Peak memory is getrusage's ru_maxrss, in
bytes, and includes the PyTorch runtime itself (over 500 MB right after
`import torch` for a CUDA build of torch).

scripts/bench-vs-pytorch.sh runs this and `medsynth bench` alternately.
Needs torch (e.g. `/tmp/torchvenv/bin/python scripts/bench_pytorch.py`).
"""
import argparse
import json
import os
import resource
import time

import torch
from torch import nn
from torch.nn import functional

LATENT_DIMENSION = 128
NEGATIVE_SLOPE = 0.2
DISCRIMINATOR_WIDTHS = (64, 128, 256, 512)
# TrainingStep's defaults, for both networks.
ADAM = {"lr": 2e-4, "betas": (0.5, 0.999), "eps": 1e-8}
SCENARIOS = {
    "compact": {"batch": 32, "base_channels": 256, "levels": (4, 3, 2, 1)},
    "paper": {"batch": 8, "base_channels": 512, "levels": (6, 5, 4, 3, 2, 1)},
}


class GeneratorLevel(nn.Module):
    """Three branches that each double the resolution, concatenated, then BatchNorm and LeakyReLU.

    a: Conv 3x3 (cin -> F, pad 1), nearest upsampling x2;
    b: Conv 1x1 (cin -> 2F), ConvTranspose 3x3 (2F -> F, stride 2, pad 1, output padding 1);
    c: Conv 1x1 (cin -> 2F), ConvTranspose 1x1 (2F -> F, stride 2, output padding 1).
    [N, cin, H, W] -> [N, 3F, 2H, 2W].
    """

    def __init__(self, in_channels, filters):
        super().__init__()
        self.a = nn.Conv2d(in_channels, filters, 3, padding=1)
        self.b1 = nn.Conv2d(in_channels, 2 * filters, 1)
        self.b2 = nn.ConvTranspose2d(2 * filters, filters, 3, stride=2, padding=1, output_padding=1)
        self.c1 = nn.Conv2d(in_channels, 2 * filters, 1)
        self.c2 = nn.ConvTranspose2d(2 * filters, filters, 1, stride=2, output_padding=1)
        self.norm = nn.BatchNorm2d(3 * filters)

    def forward(self, x):
        branch_a = functional.interpolate(self.a(x), scale_factor=2, mode="nearest")
        joined = torch.cat([branch_a, self.b2(self.b1(x)), self.c2(self.c1(x))], dim=1)
        return functional.leaky_relu(self.norm(joined), NEGATIVE_SLOPE)


class Generator(nn.Module):
    """z [N, 128] -> Linear -> [N, C0, 4, 4] -> BatchNorm -> LeakyReLU -> levels -> Conv 3x3 -> tanh: [N, 1, R, R]."""

    def __init__(self, base_channels, levels):
        super().__init__()
        self.base_channels = base_channels
        self.fc = nn.Linear(LATENT_DIMENSION, 16 * base_channels)
        self.norm0 = nn.BatchNorm2d(base_channels)
        blocks, in_channels = [], base_channels
        for exponent in levels:
            filters = (1 << exponent) * 8
            blocks.append(GeneratorLevel(in_channels, filters))
            in_channels = 3 * filters
        self.levels = nn.Sequential(*blocks)
        self.out = nn.Conv2d(in_channels, 1, 3, padding=1)

    def forward(self, latents):
        x = self.fc(latents).view(-1, self.base_channels, 4, 4)
        x = functional.leaky_relu(self.norm0(x), NEGATIVE_SLOPE)
        return torch.tanh(self.out(self.levels(x)))


def discriminator(resolution):
    """Conv 4x4 stride 2 pad 1 (64, 128, 256, 512; all with bias), BatchNorm on all but the first,
    LeakyReLU after each, channel-major flatten, Linear -> 1 logit."""
    layers, in_channels = [], 1
    for index, width in enumerate(DISCRIMINATOR_WIDTHS):
        layers.append(nn.Conv2d(in_channels, width, 4, stride=2, padding=1))
        if index > 0:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU(NEGATIVE_SLOPE))
        in_channels = width
    side = resolution // 16
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(DISCRIMINATOR_WIDTHS[-1] * side * side, 1))


class TrainingStep:
    """One D step and one G step on a real batch and a batch of latents."""

    def __init__(self, generator, discriminator, batch):
        self.generator, self.discriminator = generator, discriminator
        self.generator_optimizer = torch.optim.Adam(generator.parameters(), **ADAM)
        self.discriminator_optimizer = torch.optim.Adam(discriminator.parameters(), **ADAM)
        self.ones, self.zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def run(self, real, latents):
        generated = self.generator(latents)

        self.discriminator_optimizer.zero_grad()
        # A backward right after each forward, as the engine's layers keep only their latest forward.
        functional.binary_cross_entropy_with_logits(self.discriminator(real), self.ones).backward()
        functional.binary_cross_entropy_with_logits(self.discriminator(generated.detach()), self.zeros).backward()
        self.discriminator_optimizer.step()

        self.generator_optimizer.zero_grad()
        # The engine's G step passes gradients through D without D's parameter gradients.
        self.discriminator.requires_grad_(False)
        functional.binary_cross_entropy_with_logits(self.discriminator(generated), self.ones).backward()
        self.discriminator.requires_grad_(True)
        self.generator_optimizer.step()


def parameter_count(model):
    """Trainable parameters; BatchNorm running statistics are buffers, as in the engine's store."""
    return sum(parameter.numel() for parameter in model.parameters())


def run(scenario, steps, threads):
    torch.set_num_threads(threads)
    settings = SCENARIOS[scenario]
    batch, resolution = settings["batch"], 4 << len(settings["levels"])
    # The engine's seeds: 1 for G, 2 for D, 3 for the data.
    torch.manual_seed(1)
    generator = Generator(settings["base_channels"], settings["levels"])
    torch.manual_seed(2)
    critic = discriminator(resolution)
    torch.manual_seed(3)
    real = torch.rand(batch, 1, resolution, resolution) * 2 - 1
    step = TrainingStep(generator, critic, batch)
    for _ in range(2):
        step.run(real, torch.randn(batch, LATENT_DIMENSION))
    start = time.perf_counter()
    for _ in range(steps):
        step.run(real, torch.randn(batch, LATENT_DIMENSION))
    step_seconds = (time.perf_counter() - start) / steps
    return {
        "scenario": scenario,
        "batch": batch,
        "steps": steps,
        "threads": threads,
        "step_seconds": step_seconds,
        "images_per_second": batch / step_seconds,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "generator_parameters": parameter_count(generator),
        "discriminator_parameters": parameter_count(critic),
        "torch_version": torch.__version__,
    }


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main():
    parser = argparse.ArgumentParser(description="PyTorch twin of `medsynth bench --scenario compact|paper`.")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="compact")
    parser.add_argument("--steps", type=positive, default=10, help="measured steps after the two warm-up steps")
    # The CPUs this process may run on, as Foundation's activeProcessorCount (medsynth's default).
    parser.add_argument("--threads", type=positive, default=len(os.sched_getaffinity(0)), help="default: one per core")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    result = run(arguments.scenario, arguments.steps, arguments.threads)
    if arguments.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    print(
        f"{result['scenario']} (PyTorch {result['torch_version']}): batch {result['batch']}, {result['threads']} threads, "
        f"{result['steps']} steps after 2 warm-up steps\n"
        f"  step            {result['step_seconds']:.3f} s\n"
        f"  images/s        {result['images_per_second']:.2f}\n"
        f"  parameters      G {result['generator_parameters']:,}, D {result['discriminator_parameters']:,}\n"
        f"  peak memory     {result['peak_rss_bytes'] / 1048576:.0f} MiB"
    )


if __name__ == "__main__":
    main()
