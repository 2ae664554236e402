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
  the pooled features [2, C] from Keras, and the parameter count.
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


if __name__ == "__main__":
    main()
