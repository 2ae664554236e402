#!/usr/bin/python3
"""Reference values of the first-order R1 stand-in for GradientPenaltyTests:
(gamma / 2) mean ((perturbed - clean) / sigma)^2 and its gradients with
respect to both logits, in float64 with numpy (independent of medsynth's)."""
import numpy as np

gamma, sigma = 0.5, 0.01
clean = np.array([0.25, -1.5, 3.0, 0.0, -0.02], dtype=np.float64)
perturbed = np.array([0.2512, -1.5031, 3.0, 0.0047, -0.0188], dtype=np.float64)
difference = perturbed - clean
loss = gamma / 2 * np.mean((difference / sigma) ** 2)
perturbed_gradient = gamma * difference / sigma**2 / len(difference)
print(f"loss {loss!r}")
print("perturbed gradient", [float(g) for g in perturbed_gradient])
print("clean gradient", [float(-g) for g in perturbed_gradient])
