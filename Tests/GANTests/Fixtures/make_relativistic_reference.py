#!/usr/bin/python3
"""Reference values of the relativistic pairing loss for RelativisticPairingLossTests:
mean softplus(-(winner - loser)) and its gradients, in float64 with numpy's
logaddexp (an implementation independent of medsynth's)."""
import numpy as np

winner = np.array([0.0, 1.5, -2.0, 30.0, -25.0, 0.3], dtype=np.float64)
loser = np.array([0.0, -0.5, 1.0, 0.0, 0.0, 0.3], dtype=np.float64)
margin = winner - loser
loss = np.logaddexp(0, -margin).mean()
slope = 1 / (1 + np.exp(margin)) / len(margin)  # d/dmargin of softplus(-margin), negated, over N
print(f"loss {loss!r}")
print("winner gradient", [float(-s) for s in slope])
print("loser gradient", [float(s) for s in slope])
