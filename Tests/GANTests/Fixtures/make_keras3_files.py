"""Weight files Keras 3 wrote, for the reader of both its layouts (issue 17).

Run with Keras 3 (any backend; its numpy backend still imports jax):

    python3 -m venv /tmp/k3env && /tmp/k3env/bin/pip install keras==3.15.1 h5py scipy jax
    KERAS_BACKEND=jax /tmp/k3env/bin/python make_keras3_files.py

Keras 3 builds MobileNetV2(alpha=0.35, include_top=False, weights=None) at
64 x 64, loads into it the weights of mobilenetv2_035_notop.h5 (the Keras 2
fixture of make_keras_backbones.py, so the pooled features are those of
mobilenetv2_035_io.safetensors), checks that it gives those features, and
writes beside this script:
- mobilenetv2_035_keras3.weights.h5: `model.save_weights`, Keras 3's own
  layout (`/layers/<object>/vars/<i>`, the layer's name in an attribute);
- mobilenetv2_035_keras3_model.h5: `model.save` to `.h5`, the legacy layout
  under `/model_weights`, weight names without ":0" and the depthwise
  kernels named `kernel`;
- separable_residual_keras3.weights.h5: make_keras_backbones.py's small
  model with Xception's kinds of layers (a named SeparableConv2D and
  BatchNormalization, an unnamed 1x1 Conv2D and BatchNormalization), built
  by Keras 3 with the weights of separable_residual.h5, in Keras 3's layout
  (its engine-layout reference is separable_residual_io.safetensors);
- not_keras.h5 (h5py alone): an HDF5 file in neither layout.
"""
import os

import h5py
import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def read_reference():
    """The input and features of mobilenetv2_035_io.safetensors (float32, NCHW input)."""
    import json
    import struct

    with open(os.path.join(HERE, "mobilenetv2_035_io.safetensors"), "rb") as file:
        length = struct.unpack("<Q", file.read(8))[0]
        header = json.loads(file.read(length))
        data = file.read()
    arrays = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        arrays[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(entry["shape"])
    return arrays


def separable_residual():
    inputs = keras.Input((8, 8, 4))
    residual = keras.layers.Conv2D(6, 1, strides=2, padding="same", use_bias=False)(inputs)
    residual = keras.layers.BatchNormalization()(residual)
    x = keras.layers.SeparableConv2D(6, 3, padding="same", use_bias=False, name="block2_sepconv1")(inputs)
    x = keras.layers.BatchNormalization(name="block2_sepconv1_bn")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    model = keras.Model(inputs, keras.layers.add([x, residual]))
    model.load_weights(os.path.join(HERE, "separable_residual.h5"))
    model.save_weights(os.path.join(HERE, "separable_residual_keras3.weights.h5"))
    print("separable_residual:", [layer.name for layer in model.layers])


def main():
    print("keras", keras.__version__, "backend", keras.backend.backend())
    model = keras.applications.MobileNetV2(
        alpha=0.35, include_top=False, weights=None, input_shape=(64, 64, 3), pooling="avg"
    )
    model.load_weights(os.path.join(HERE, "mobilenetv2_035_notop.h5"))
    reference = read_reference()
    features = np.asarray(model(np.transpose(reference["input"], (0, 2, 3, 1)), training=False))
    difference = float(np.abs(features - reference["features"]).max())
    print("features against the Keras 2 reference: largest difference", difference)
    assert difference < 1e-4

    native = os.path.join(HERE, "mobilenetv2_035_keras3.weights.h5")
    model.save_weights(native)
    legacy = os.path.join(HERE, "mobilenetv2_035_keras3_model.h5")
    model.save(legacy)
    with h5py.File(native) as file:
        print(native, "objects under /layers:", len(file["layers"]))
    with h5py.File(legacy) as file:
        names = file["model_weights/block_1_depthwise"].attrs["weight_names"]
        print(legacy, "block_1_depthwise weight names:", list(names))
    separable_residual()
    with h5py.File(os.path.join(HERE, "not_keras.h5"), "w") as file:
        file["data/values"] = np.arange(4, dtype=np.float32)


if __name__ == "__main__":
    main()
