"""Keras reference for the transfer-learning backbones (issue 7).

Run with TensorFlow 2.15 (the last Keras 2, whose `save_weights("x.h5")`
writes the legacy weights-only HDF5 layout that Keras Applications'
`*_notop.h5` files use):

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1
    /tmp/tfenv/bin/python make_keras_backbones.py

Writes, beside this script:
- mobilenetv2_035_notop.h5: MobileNetV2(alpha=0.35, include_top=False,
  weights=None) at 64 x 64, random initialisation, saved with save_weights.
  Its BatchNorm moving statistics are calibrated (see `calibrate_batchnorm`);
- mobilenetv2_035_io.safetensors: a float32 input batch [2, 3, 64, 64]
  (NCHW, values in [-1, 1], Keras' "tf" preprocessing already applied),
  the pooled features [2, C] from Keras, and the parameter count;
- xception_formula_io.safetensors: Xception's weights are 83 MB, too large to
  commit, so every weight is set from `formula_weight` below, keyed by the
  name and layout medsynth's engine gives it (and converted here, with
  numpy, to Keras' layout). The Swift test fills its Xception with the same
  formula and compares the pooled features of this input [2, 3, 71, 71].
  The BatchNorm moving statistics are calibrated instead, and stored here
  under the engine's names (`<layer>.running_mean`, `<layer>.running_var`);
- oversized_weight.h5: the Keras layout with one chunked dataset that declares
  3 x 3 x 3 x 2^40 floats and stores none (a few kB), for the check that a
  declared shape is refused before memory is allocated, and a 9-D dataset
  `/Conv2/Conv2/kernel:0` outside `layer_names`;
- long_names.h5: 400 layer names (about 11 kB, fixed-length strings) on the
  root and 400 variable-length weight names on `/many`, longer than the
  reader's first 4 kB buffer;
- separable_residual.h5 and separable_residual_io.safetensors: a small Keras
  model with Xception's kinds of layers (a named SeparableConv2D and
  BatchNormalization, an unnamed 1x1 Conv2D and BatchNormalization, as
  Xception's residual branches are), saved with save_weights, and every
  weight in the engine's names and layouts converted here with numpy, for
  the separable mapping and `Xception.kerasRename` on a file Keras wrote.

Why calibrate: with uncalibrated statistics (Keras' 0 and 1, or random ones)
the activations of a randomly initialised network drift layer by layer
until the pooled features hardly depend on the image (they varied by about
1e-9 between two inputs). A comparison of such features cannot see a wrong
stride, padding or channel order in the early layers. Each BatchNorm layer,
in order, gets the mean and variance of its own input over a calibration
batch, plus random gamma and beta, so every layer's output stays of order 1
and the features differ between images by far more than the tolerance.
The statistics are the data's, not 0 and 1, so a swapped mean/variance
mapping would still show.
"""
import pathlib

import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file

HERE = pathlib.Path(__file__).parent
rng = np.random.default_rng(7)


def calibrate_batchnorm(model, images, keep_gamma_beta=False):
    """Sets each BatchNorm layer's moving mean and variance, in order, to those of its input on `images`."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer_input = tf.keras.Model(model.input, layer.input)(images, training=False).numpy()
            gamma, beta, _, _ = layer.get_weights()
            if not keep_gamma_beta:
                gamma, beta = 1 + 0.1 * rng.normal(size=gamma.shape), 0.1 * rng.normal(size=beta.shape)
            layer.set_weights([gamma, beta, layer_input.mean(axis=(0, 1, 2)), layer_input.var(axis=(0, 1, 2))])


def spread(features):
    return float(np.abs(features[0] - features[1]).max())


def main():
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35, include_top=False, weights=None,
                                              pooling="avg")
    calibrate_batchnorm(model, rng.uniform(-1, 1, size=(8, 64, 64, 3)).astype(np.float32))
    model.save_weights(str(HERE / "mobilenetv2_035_notop.h5"))
    x = rng.uniform(-1, 1, size=(2, 64, 64, 3)).astype(np.float32)
    features = model(x, training=False).numpy().astype(np.float32)
    save_file({"input": np.ascontiguousarray(x.transpose(0, 3, 1, 2)), "features": features,
               "parameters": np.array([model.count_params()], dtype=np.float32)},
              str(HERE / "mobilenetv2_035_io.safetensors"))
    print("MobileNetV2 alpha 0.35:", model.count_params(), "parameters, features", features.shape,
          "largest difference between the two images' features", spread(features))


def formula_weight(name, shape):
    """A uniform value in [-1, 1) per flat index i of the engine-layout array,
    from splitmix64(key(name) * 2^32 + i), scaled by the role of the array.

    An integer hash, so that Swift computes the same bits. (A sinusoid of the
    flat index, used before, makes every 1x1 convolution's matrix rank 2, and
    the network so ill-conditioned that float32 rounding changed its
    features by order 1.)
    """
    key = sum((j + 1) * b for j, b in enumerate(name.encode())) % 1_000_003
    state = np.uint64(key << 32) + np.arange(int(np.prod(shape)), dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (state ^ (state >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    uniform = ((z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53 * 2 - 1).reshape(shape)
    if name.endswith(".bias"):
        return (0.1 * uniform).astype(np.float32)
    if len(shape) == 1:  # BatchNorm gamma
        return (1 + 0.2 * uniform).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (uniform * np.sqrt(3 / fan_in)).astype(np.float32)


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
            elif short in ("moving_mean", "moving_variance"):  # placeholders until calibrate_batchnorm
                values.append(np.zeros(shape) if short == "moving_mean" else np.ones(shape))
            else:
                suffix = {"gamma": ".weight", "beta": ".bias"}[short]
                values.append(formula_weight(target + suffix, shape))
        if values:
            layer.set_weights(values)
    calibrate_batchnorm(model, rng.uniform(-1, 1, size=(8, 71, 71, 3)).astype(np.float32), keep_gamma_beta=True)
    statistics = {}
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            _, _, mean, variance = layer.get_weights()
            target = rename.get(layer.name, layer.name)
            statistics[target + ".running_mean"] = mean.astype(np.float32)
            statistics[target + ".running_var"] = variance.astype(np.float32)
    x = np.sin(0.011 * np.arange(2 * 71 * 71 * 3)).reshape(2, 71, 71, 3).astype(np.float32)
    features = model(x, training=False).numpy().astype(np.float32)
    save_file({"input": np.ascontiguousarray(x.transpose(0, 3, 1, 2)), "features": features,
               "parameters": np.array([model.count_params()], dtype=np.float32), **statistics},
              str(HERE / "xception_formula_io.safetensors"))
    print("Xception:", model.count_params(), "parameters, features", features.shape, "max", np.abs(features).max(),
          "largest difference between the two images' features", spread(features))


def oversized():
    import h5py
    with h5py.File(HERE / "oversized_weight.h5", "w") as file:
        file.attrs["layer_names"] = np.array([b"Conv1"])
        layer = file.create_group("Conv1")
        layer.attrs["weight_names"] = np.array([b"Conv1/kernel:0"])
        layer.create_dataset("Conv1/kernel:0", shape=(3, 3, 3, 1 << 40), dtype="float32", chunks=(3, 3, 3, 1024))
        file.create_group("Conv2").create_dataset("Conv2/kernel:0", shape=(1,) * 9, dtype="float32")


def long_names():
    import h5py
    with h5py.File(HERE / "long_names.h5", "w") as file:
        file.attrs["layer_names"] = np.array([f"layer_with_a_long_name_{i:03d}".encode() for i in range(400)])
        file.create_group("many").attrs.create("weight_names", [f"many/weight_{i:03d}:0" for i in range(400)],
                                               dtype=h5py.string_dtype())


def separable_residual():
    inputs = tf.keras.Input((8, 8, 4))
    residual = tf.keras.layers.Conv2D(6, 1, strides=2, padding="same", use_bias=False)(inputs)
    residual = tf.keras.layers.BatchNormalization()(residual)
    x = tf.keras.layers.SeparableConv2D(6, 3, padding="same", use_bias=False, name="block2_sepconv1")(inputs)
    x = tf.keras.layers.BatchNormalization(name="block2_sepconv1_bn")(x)
    x = tf.keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    model = tf.keras.Model(inputs, tf.keras.layers.add([x, residual]))
    for layer in model.layers:
        layer.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    model.save_weights(str(HERE / "separable_residual.h5"))
    convolution = [l for l in model.layers if isinstance(l, tf.keras.layers.Conv2D) and not isinstance(l, tf.keras.layers.SeparableConv2D)][0]
    norms = [l for l in model.layers if isinstance(l, tf.keras.layers.BatchNormalization)]
    residual_norm = [l for l in norms if l.name != "block2_sepconv1_bn"][0]
    separable = model.get_layer("block2_sepconv1")
    depthwise, pointwise = separable.get_weights()
    expected = {
        "residual_0.weight": convolution.get_weights()[0].transpose(3, 2, 0, 1),
        "block2_sepconv1.depthwise.weight": depthwise.transpose(2, 3, 0, 1),
        "block2_sepconv1.pointwise.weight": pointwise.transpose(3, 2, 0, 1),
    }
    for prefix, layer in [("residual_0_bn", residual_norm), ("block2_sepconv1_bn", model.get_layer("block2_sepconv1_bn"))]:
        for suffix, value in zip([".weight", ".bias", ".running_mean", ".running_var"], layer.get_weights()):
            expected[prefix + suffix] = value
    save_file({name: np.ascontiguousarray(value, dtype=np.float32) for name, value in expected.items()},
              str(HERE / "separable_residual_io.safetensors"))
    print("separable_residual:", [layer.name for layer in model.layers])


if __name__ == "__main__":
    main()
    xception()
    oversized()
    long_names()
    separable_residual()
