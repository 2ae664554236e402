#!/usr/bin/python3
"""The Markdown rows of `evaluate --utility --json`'s keypoint figures, as
docs/evaluation.md and docs/training.md give them: one row per arm (training
frames, mean point error and PCK with their 95 % intervals), one per
difference (with its verdict), and the ratio of synthetic-only to real-only
error.

    scripts/utility_table.py UTILITY.json [TRAIN.json]

TRAIN.json, `train --json` of the model, adds how its training ended.
"""
import json
import sys

result = json.load(open(sys.argv[1]))
u = result["utility"]
trained = ""
if len(sys.argv) > 2:
    train = json.load(open(sys.argv[2]))
    trained = f" (the generator's too: {train['status']} at step {train['step']})"
print(f"{result['training_series']} labelled training cines{trained}, {u['test_frames']} test frames of {u['test_series']} "
      f"held-out cines, {result['generated_frames']} generated frames, pseudo-labels: {u['pseudo_labels']}; "
      f"warnings: {result['warnings']}")
arms = {arm["arm"]: arm for arm in u["arms"]}
for arm in u["arms"]:
    low, high = arm["mean_error_interval"]
    pck_low, pck_high = arm["pck_interval"]
    print(f"| {arm['arm']} | {arm['training_frames']} | {arm['mean_error']:.2f} ({low:.2f} to {high:.2f}) "
          f"| {arm['pck']:.2f} ({pck_low:.2f} to {pck_high:.2f}) |")
for difference in u["differences"]:
    low, high = difference["interval"]
    print(f"| {difference['arm']} - {difference['against']} | {difference['mean_error_difference']:+.2f} "
          f"({low:+.2f} to {high:+.2f}) | {difference['verdict']} |")
print(f"synthetic only / real only, mean error: {arms['synthetic']['mean_error'] / arms['real']['mean_error']:.2f}")
