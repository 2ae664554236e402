"""Keras reference for the transfer-learning backbones (issue 7).

Run with TensorFlow 2.15 (the last Keras 2, whose `save_weights("x.h5")`
writes the legacy weights-only HDF5 layout that Keras Applications'
`*_notop.h5` files use):

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1
    /tmp/tfenv/bin/python make_keras_backbones.py

Writes, beside this script:
- mobilenetv2_035_notop.h5: MobileNetV2(alpha=0.35, include_top=False,
  weights=None) at 64 x 64, random initialisation plus random BatchNorm
  moving statistics (Keras starts them at 0 and 1, which would hide a
  wrong mean/variance mapping), saved with save_weights;
- mobilenetv2_035_io.safetensors: a float32 input batch [2, 3, 64, 64]
  (NCHW, values in [-1, 1], Keras' "tf" preprocessing already applied),
  the pooled features [2, C] from Keras, and the parameter count;
- xception_formula_io.safetensors: Xception's weights are 83 MB, too large to
  commit, so every weight is set from `formula_weight` below, keyed by the
  name and layout medsynth's engine gives it (and converted here, with
  numpy, to Keras' layout). The Swift test fills its Xception with the same
  formula and compares the pooled features of this input [2, 3, 71, 71].
"""
import pathlib

import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file

HERE = pathlib.Path(__file__).parent
rng = np.random.default_rng(7)


def randomise_batchnorm(model):
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([1 + 0.1 * rng.normal(size=gamma.shape), 0.1 * rng.normal(size=beta.shape),
                               0.1 * rng.normal(size=mean.shape), rng.uniform(0.5, 1.5, size=variance.shape)])


def main():
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, include_top=False, weights=None,
                                              pooling="avg")
    randomise_batchnorm(model)
    model.save_weights(str(HERE / "mobilenetv2_035_notop.h5"))
    x = rng.uniform(-1, 1, size=(2, 64, 64, 3)).astype(np.float32)
    features = model(x, training=False).numpy().astype(np.float32)
    save_file({"input": np.ascontiguousarray(x.transpose(0, 3, 1, 2)), "features": features,
               "parameters": np.array([model.count_params()], dtype=np.float32)},
              str(HERE / "mobilenetv2_035_io.safetensors"))
    print("MobileNetV2 alpha 0.35:", model.count_params(), "parameters, features", features.shape)


def formula_weight(name, shape):
    """amplitude * sin(0.37 i + phase(name)) over the engine-layout array, i the flat index."""
    phase = sum((j + 1) * b for j, b in enumerate(name.encode())) % 997 / 997 * 2 * np.pi
    wave = np.sin(0.37 * np.arange(int(np.prod(shape)), dtype=np.float64) + phase).reshape(shape)
    if name.endswith(".running_var"):
        return (1 + 0.5 * np.abs(wave)).astype(np.float32)
    if name.endswith(".running_mean") or name.endswith(".bias"):
        return (0.1 * wave).astype(np.float32)
    if len(shape) == 1:  # BatchNorm gamma
        return (1 + 0.2 * wave).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (wave / np.sqrt(fan_in)).astype(np.float32)


def xception():
    model = tf.keras.applications.Xception(input_shape=(71, 71, 3), include_top=False, weights=None, pooling="avg")
    residual_convolutions = [layer.name for layer in model.layers if layer.name.startswith("conv2d")]
    residual_norms = [layer.name for layer in model.layers if layer.name.startswith("batch_normalization")]
    rename = {name: f"residual_{i}" for i, name in enumerate(residual_convolutions)}
    rename.update({name: f"residual_{i}_bn" for i, name in enumerate(residual_norms)})
    for layer in model.layers:
        target = rename.get(layer.name, layer.name)
        values = []
        for weight in layer.weights:
            short = weight.name.split("/")[-1].split(":")[0]
            shape = tuple(weight.shape)
            if short == "kernel" or short == "pointwise_kernel":  # Keras [kh, kw, in, out], engine [out, in, kh, kw]
                engine = (shape[3], shape[2], shape[0], shape[1])
                suffix = ".pointwise.weight" if short == "pointwise_kernel" else ".weight"
                values.append(formula_weight(target + suffix, engine).transpose(2, 3, 1, 0))
            elif short == "depthwise_kernel":  # Keras [kh, kw, in, 1], engine [in, 1, kh, kw]
                engine = (shape[2], 1, shape[0], shape[1])
                values.append(formula_weight(target + ".depthwise.weight", engine).transpose(2, 3, 0, 1))
            else:
                suffix = {"gamma": ".weight", "beta": ".bias", "moving_mean": ".running_mean",
                          "moving_variance": ".running_var"}[short]
                values.append(formula_weight(target + suffix, shape))
        if values:
            layer.set_weights(values)
    x = np.sin(0.011 * np.arange(2 * 71 * 71 * 3)).reshape(2, 71, 71, 3).astype(np.float32)
    features = model(x, training=False).numpy().astype(np.float32)
    save_file({"input": np.ascontiguousarray(x.transpose(0, 3, 1, 2)), "features": features,
               "parameters": np.array([model.count_params()], dtype=np.float32)},
              str(HERE / "xception_formula_io.safetensors"))
    print("Xception:", model.count_params(), "parameters, features", features.shape, "max", np.abs(features).max())


if __name__ == "__main__":
    main()
    xception()
