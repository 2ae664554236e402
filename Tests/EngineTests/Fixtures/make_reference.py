#!/usr/bin/env python3
"""Reference outputs for the engine tests, from an independent implementation
in numpy (float64, direct loops over kernel offsets, no im2col).

Writes, next to this script:
- ops/<case>.safetensors: inputs, parameters, an upstream gradient `dy`, and
  the expected `y`, `dx` and parameter gradients of one op;
- adam.safetensors: two Adam steps with PyTorch's semantics;
- ../../GANTests/Fixtures/compact_generator.safetensors: a compact generator
  checkpoint with the names and layouts of the architecture page (written by the
  safetensors library, as PyTorch's save_file writes it), and
  compact_generator_io.safetensors beside it: latents and the generator's
  outputs in training and inference mode.

    pip install numpy safetensors
    python3 Tests/EngineTests/Fixtures/make_reference.py

Generated files: do not edit them by hand.
"""
import pathlib

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file as write_safetensors

import zlib

HERE = pathlib.Path(__file__).parent
GAN_FIXTURES = HERE.parent.parent / "GANTests" / "Fixtures"


def seeded(name):
    """A random generator of its own for each case, so adding a case leaves
    the other fixtures byte for byte as they were."""
    global rng
    rng = np.random.default_rng(zlib.crc32(name.encode()))


def save_file(tensors, path, metadata=None):
    """Writes `tensors` unless the file already holds exactly them: the
    library orders metadata keys differently from run to run."""
    target = pathlib.Path(path)
    if target.exists():
        with safe_open(str(target), framework="numpy") as existing:
            same = (existing.metadata() or {}) == (metadata or {}) and set(existing.keys()) == set(tensors) \
                and all(np.array_equal(existing.get_tensor(k), v) for k, v in tensors.items())
        if same:
            return
    write_safetensors(tensors, str(target), metadata=metadata)


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def conv2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    y = np.zeros((n, o, ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y + b[None, :, None, None]


def conv2d_backward(x, w, dy, stride, pad):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    ho, wo = dy.shape[2], dy.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, patch)
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += np.einsum("nohw,oc->nchw", dy, w[:, :, i, j])
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, dy.sum(axis=(0, 2, 3))


def conv_transpose2d(x, w, b, stride, pad, output_pad):
    n, c, h, wd = x.shape
    _, o, k, _ = w.shape
    ho = (h - 1) * stride - 2 * pad + k + output_pad
    wo = (wd - 1) * stride - 2 * pad + k + output_pad
    full = np.zeros((n, o, pad + ho + k, pad + wo + k))
    for i in range(k):
        for j in range(k):
            full[:, :, i:i + stride * h:stride, j:j + stride * wd:stride] += np.einsum("nchw,co->nohw", x, w[:, :, i, j])
    return full[:, :, pad:pad + ho, pad:pad + wo] + b[None, :, None, None]


def conv_transpose2d_backward(x, w, dy, stride, pad):
    n, c, h, wd = x.shape
    _, o, k, _ = w.shape
    ho, wo = dy.shape[2], dy.shape[3]
    full = np.zeros((n, o, pad + ho + k, pad + wo + k))
    full[:, :, pad:pad + ho, pad:pad + wo] = dy
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    for i in range(k):
        for j in range(k):
            patch = full[:, :, i:i + stride * h:stride, j:j + stride * wd:stride]
            dx += np.einsum("nohw,co->nchw", patch, w[:, :, i, j])
            dw[:, :, i, j] = np.einsum("nchw,nohw->co", x, patch)
    return dx, dw, dy.sum(axis=(0, 2, 3))


def batch_norm_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    xhat = (x - mean) / np.sqrt(var + eps)
    return xhat * gamma[None, :, None, None] + beta[None, :, None, None], xhat, var


def batch_norm_backward(dy, xhat, var, gamma, eps=1e-5):
    m = dy.shape[0] * dy.shape[2] * dy.shape[3]
    dgamma = (dy * xhat).sum(axis=(0, 2, 3))
    dbeta = dy.sum(axis=(0, 2, 3))
    dxhat = dy * gamma[None, :, None, None]
    inv = 1 / np.sqrt(var + eps)
    dx = inv / m * (m * dxhat - dxhat.sum(axis=(0, 2, 3), keepdims=True)
                    - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True))
    return dx, dgamma, dbeta


def save(name, **arrays):
    (HERE / "ops").mkdir(exist_ok=True)
    save_file({k: f32(v) for k, v in arrays.items()}, str(HERE / "ops" / f"{name}.safetensors"))


def conv_case(name, n, c, h, o, k, stride, pad):
    seeded(name)
    x = rng.normal(size=(n, c, h, h))
    w = rng.normal(size=(o, c, k, k)) * 0.3
    b = rng.normal(size=(o,))
    y = conv2d(x, w, b, stride, pad)
    dy = rng.normal(size=y.shape)
    dx, dw, db = conv2d_backward(x, w, dy, stride, pad)
    save(name, x=x, weight=w, bias=b, y=y, dy=dy, dx=dx, dweight=dw, dbias=db,
         config=np.array([stride, pad, 0]))


def conv_transpose_case(name, n, c, h, o, k, stride, pad, output_pad):
    seeded(name)
    x = rng.normal(size=(n, c, h, h))
    w = rng.normal(size=(c, o, k, k)) * 0.3
    b = rng.normal(size=(o,))
    y = conv_transpose2d(x, w, b, stride, pad, output_pad)
    dy = rng.normal(size=y.shape)
    dx, dw, db = conv_transpose2d_backward(x, w, dy, stride, pad)
    save(name, x=x, weight=w, bias=b, y=y, dy=dy, dx=dx, dweight=dw, dbias=db,
         config=np.array([stride, pad, output_pad]))


def depthwise_case(name, n, c, h, k, stride, pad):
    seeded(name)
    x = rng.normal(size=(n, c, h, h))
    w = rng.normal(size=(c, 1, k, k)) * 0.3
    b = rng.normal(size=(c,))
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // stride + 1
    y = np.zeros((n, c, oh, oh)) + b[None, :, None, None]
    for ki in range(k):
        for kj in range(k):
            y += w[None, :, 0, ki, kj, None, None] * xp[:, :, ki:ki + stride * oh:stride, kj:kj + stride * oh:stride]
    dy = rng.normal(size=y.shape)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for ki in range(k):
        for kj in range(k):
            dxp[:, :, ki:ki + stride * oh:stride, kj:kj + stride * oh:stride] += w[None, :, 0, ki, kj, None, None] * dy
            dw[:, 0, ki, kj] = (xp[:, :, ki:ki + stride * oh:stride, kj:kj + stride * oh:stride] * dy).sum(axis=(0, 2, 3))
    dx = dxp[:, :, pad:pad + h, pad:pad + h]
    save(name, x=x, weight=w, bias=b, y=y, dy=dy, dx=dx, dweight=dw, dbias=dy.sum(axis=(0, 2, 3)),
         config=np.array([stride, pad, 0]))


def backbone_layers():
    """Depthwise convolution, max pooling with TensorFlow "same" padding,
    zero padding, global average and ReLU6: the layers Xception and
    MobileNetV2 add to the engine (issue 7)."""
    depthwise_case("depthwise3x3_pad1", 2, 3, 6, 3, 1, 1)
    depthwise_case("depthwise3x3_stride2", 2, 4, 7, 3, 2, 0)
    seeded("maxpool")
    x = rng.normal(size=(2, 3, 6, 6))
    # 3x3 stride 2 "same" on 6 pixels: 0 before, 1 after; padding never wins.
    xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-np.inf)
    y = np.full((2, 3, 3, 3), -np.inf)
    for ki in range(3):
        for kj in range(3):
            y = np.maximum(y, xp[:, :, ki:ki + 6:2, kj:kj + 6:2])
    dy = rng.normal(size=y.shape)
    dxp = np.zeros_like(xp)
    for a in range(2):
        for ch in range(3):
            for oy in range(3):
                for ox in range(3):
                    window = xp[a, ch, oy * 2:oy * 2 + 3, ox * 2:ox * 2 + 3]
                    ky, kx = np.unravel_index(np.argmax(window), window.shape)
                    dxp[a, ch, oy * 2 + ky, ox * 2 + kx] += dy[a, ch, oy, ox]
    save("maxpool3x3_stride2_same", x=x, y=y, dy=dy, dx=dxp[:, :, :6, :6])
    seeded("zeropad")
    x = rng.normal(size=(2, 3, 4, 5))
    y = np.pad(x, ((0, 0), (0, 0), (0, 1), (2, 1)))
    dy = rng.normal(size=y.shape)
    save("zeropad_t0_b1_l2_r1", x=x, y=y, dy=dy, dx=dy[:, :, 0:4, 2:7])
    seeded("global_average")
    x = rng.normal(size=(2, 3, 4, 5))
    dy = rng.normal(size=(2, 3))
    save("global_average", x=x, y=x.mean(axis=(2, 3)), dy=dy, dx=np.broadcast_to(dy[:, :, None, None] / 20, x.shape))
    seeded("relu6")
    x = rng.normal(size=(2, 3, 4, 4)) * 5
    dy = rng.normal(size=x.shape)
    save("relu6", x=x, y=np.clip(x, 0, 6), dy=dy, dx=np.where((x > 0) & (x < 6), dy, 0))


def minibatch_stddev():
    """Karras et al. 2018: x, then a map of the mean over (c, h, w) of the batch's standard deviation."""
    seeded("minibatch_stddev")
    x = rng.normal(size=(3, 2, 2, 3))
    n = x.shape[0]
    mean = x.mean(axis=0)
    std = np.sqrt(((x - mean) ** 2).mean(axis=0) + 1e-8)
    s = std.mean()
    y = np.concatenate([x, np.full((n, 1, 2, 3), s)], axis=1)
    dy = rng.normal(size=y.shape)
    ds = dy[:, 2].sum()
    dx = dy[:, :2] + ds * (x - mean) / (std * n * std.size)
    save("minibatch_stddev", x=x, y=y, dy=dy, dx=dx)


def noise_injection():
    """Karras, Laine and Aila 2019: one noise map per image, added to every channel times a per-channel scale."""
    seeded("noise_injection")
    x = rng.normal(size=(2, 3, 4, 5))
    noise = rng.normal(size=(2, 1, 4, 5))
    scale = rng.normal(size=(3,))
    y = x + scale[None, :, None, None] * noise
    dy = rng.normal(size=y.shape)
    save("noise_injection", x=x, noise=noise, scale=scale, y=y, dy=dy, dx=dy, dscale=(dy * noise).sum(axis=(0, 2, 3)))


def residual_bottleneck():
    """R3GAN's block without grouping: y = x + conv1x1(leaky(conv3x3(leaky(conv1x1(x))))), 4 -> 2 -> 2 -> 4 channels."""
    seeded("residual_bottleneck")
    x = rng.normal(size=(2, 4, 5, 5))
    weights = {
        "reduce": (rng.normal(size=(2, 4, 1, 1)) * 0.5, rng.normal(size=(2,)) * 0.1),
        "conv": (rng.normal(size=(2, 2, 3, 3)) * 0.3, rng.normal(size=(2,)) * 0.1),
        "restore": (rng.normal(size=(4, 2, 1, 1)) * 0.5, rng.normal(size=(4,)) * 0.1),
    }
    leaky = lambda v: np.where(v > 0, v, 0.2 * v)
    u = conv2d(x, *weights["reduce"], 1, 0)
    v = conv2d(leaky(u), *weights["conv"], 1, 1)
    y = x + conv2d(leaky(v), *weights["restore"], 1, 0)
    dy = rng.normal(size=y.shape)
    dleaky_v, dw_restore, db_restore = conv2d_backward(leaky(v), weights["restore"][0], dy, 1, 0)
    dv = np.where(v > 0, dleaky_v, 0.2 * dleaky_v)
    dleaky_u, dw_conv, db_conv = conv2d_backward(leaky(u), weights["conv"][0], dv, 1, 1)
    du = np.where(u > 0, dleaky_u, 0.2 * dleaky_u)
    dx_branch, dw_reduce, db_reduce = conv2d_backward(x, weights["reduce"][0], du, 1, 0)
    arrays = {f"{name}.{kind}": value for name, (w, b) in weights.items() for kind, value in (("weight", w), ("bias", b))}
    gradients = {"reduce": (dw_reduce, db_reduce), "conv": (dw_conv, db_conv), "restore": (dw_restore, db_restore)}
    arrays.update({f"d{name}.{kind}": value for name, (w, b) in gradients.items() for kind, value in (("weight", w), ("bias", b))})
    save("residual_bottleneck", x=x, y=y, dy=dy, dx=dy + dx_branch, **arrays)


def ops():
    conv_case("conv3x3_pad1", 2, 3, 6, 4, 3, 1, 1)
    conv_case("conv1x1", 2, 5, 4, 6, 1, 1, 0)
    conv_case("conv4x4_stride2_pad1", 2, 3, 8, 5, 4, 2, 1)
    # Few output channels: the direct path (the generator's last layer).
    conv_case("conv3x3_pad1_one_output", 2, 5, 6, 1, 3, 1, 1)
    # A 2x2 input: some kernel offsets reach past the image on every position.
    conv_case("conv4x4_stride2_pad1_2x2", 2, 3, 2, 4, 4, 2, 1)
    conv_transpose_case("convT3x3_stride2_pad1_out1", 2, 4, 3, 3, 3, 2, 1, 1)
    conv_transpose_case("convT1x1_stride2_out1", 2, 4, 3, 3, 1, 2, 0, 1)

    seeded("linear")
    x = rng.normal(size=(3, 7))
    w = rng.normal(size=(5, 7))
    b = rng.normal(size=(5,))
    y = x @ w.T + b
    dy = rng.normal(size=y.shape)
    save("linear", x=x, weight=w, bias=b, y=y, dy=dy, dx=dy @ w, dweight=dy.T @ x, dbias=dy.sum(0))

    seeded("batchnorm")
    x = rng.normal(size=(3, 4, 5, 5)) * 2 + 1
    gamma = rng.normal(size=(4,))
    beta = rng.normal(size=(4,))
    y, xhat, var = batch_norm_train(x, gamma, beta)
    dy = rng.normal(size=y.shape)
    dx, dgamma, dbeta = batch_norm_backward(dy, xhat, var, gamma)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    running_mean = 0.1 * x.mean(axis=(0, 2, 3))
    running_var = 0.9 + 0.1 * var.reshape(-1) * m / (m - 1)
    save("batchnorm_train", x=x, weight=gamma, bias=beta, y=y, dy=dy, dx=dx, dweight=dgamma, dbias=dbeta,
         running_mean=running_mean, running_var=running_var)
    rm = rng.normal(size=(4,))
    rv = rng.uniform(0.5, 2, size=(4,))
    inv = 1 / np.sqrt(rv + 1e-5)
    y = (x - rm[None, :, None, None]) * inv[None, :, None, None] * gamma[None, :, None, None] + beta[None, :, None, None]
    dy = rng.normal(size=y.shape)
    save("batchnorm_inference", x=x, weight=gamma, bias=beta, running_mean=rm, running_var=rv, y=y, dy=dy,
         dx=dy * (inv * gamma)[None, :, None, None])

    seeded("elementwise")
    x = rng.normal(size=(2, 3, 4, 4))
    dy = rng.normal(size=x.shape)
    save("leaky_relu", x=x, y=np.where(x > 0, x, 0.2 * x), dy=dy, dx=np.where(x > 0, dy, 0.2 * dy))
    save("relu", x=x, y=np.maximum(x, 0), dy=dy, dx=np.where(x > 0, dy, 0))
    t = np.tanh(x)
    save("tanh", x=x, y=t, dy=dy, dx=dy * (1 - t * t))
    s = 1 / (1 + np.exp(-x))
    save("sigmoid", x=x, y=s, dy=dy, dx=dy * s * (1 - s))
    up = x.repeat(2, axis=2).repeat(2, axis=3)
    dyu = rng.normal(size=up.shape)
    save("upsample2x", x=x, y=up, dy=dyu, dx=dyu.reshape(2, 3, 4, 2, 4, 2).sum(axis=(3, 5)))

    minibatch_stddev()
    noise_injection()
    residual_bottleneck()

    seeded("soft_argmax")
    logits = rng.normal(size=(2, 3, 5, 7)) * 2
    n, k, h, w = logits.shape
    rows, columns = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    flat = logits.reshape(n, k, h * w)
    p = np.exp(flat - flat.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    coordinates = np.stack([p @ columns.reshape(-1), p @ rows.reshape(-1)], axis=2)
    dy = rng.normal(size=coordinates.shape)
    # The full softmax Jacobian (diag(p) - p p^T) times the gradient of the expectation.
    upstream = dy[..., 0:1] * columns.reshape(1, 1, -1) + dy[..., 1:2] * rows.reshape(1, 1, -1)
    jacobian = np.einsum("nki,ij->nkij", p, np.eye(h * w)) - np.einsum("nki,nkj->nkij", p, p)
    dx = np.einsum("nkij,nkj->nki", jacobian, upstream).reshape(logits.shape)
    save("soft_argmax", x=logits, y=coordinates, dy=dy, dx=dx)

    seeded("bce")
    logits = rng.normal(size=(6, 1)) * 3
    for target in (0.0, 1.0):
        loss = np.mean(np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits))))
        grad = (1 / (1 + np.exp(-logits)) - target) / logits.size
        save(f"bce_target{int(target)}", x=logits, y=np.array([loss]), dx=grad)


def adam():
    seeded("adam")
    p = rng.normal(size=(50,))
    g1, g2 = rng.normal(size=(50,)), rng.normal(size=(50,))
    lr, b1, b2, eps = 2e-4, 0.5, 0.999, 1e-8
    m = np.zeros(50)
    v = np.zeros(50)
    params = [p.copy()]
    for step, g in enumerate((g1, g2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2 ** step) + eps
        p = p - lr / (1 - b1 ** step) * m / denom
        params.append(p.copy())
    save_file({"p0": f32(params[0]), "g1": f32(g1), "g2": f32(g2), "p1": f32(params[1]), "p2": f32(params[2]),
               "m2": f32(m), "v2": f32(v)}, str(HERE / "adam.safetensors"))


def compact_generator():
    seeded("compact_generator")
    c0, latent = 256, 128
    weights = {}

    def uniform(shape, fan_in):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape)

    def bn(name, channels):
        weights[f"{name}.weight"] = 1 + 0.1 * rng.normal(size=channels)
        weights[f"{name}.bias"] = 0.1 * rng.normal(size=channels)
        weights[f"{name}.running_mean"] = 0.2 * rng.normal(size=channels)
        weights[f"{name}.running_var"] = rng.uniform(0.5, 1.5, size=channels)

    weights["fc.weight"] = uniform((16 * c0, latent), latent)
    weights["fc.bias"] = uniform((16 * c0,), latent)
    bn("bn0", c0)
    cin = c0
    for i, level in enumerate((4, 3, 2, 1)):
        f = 2 ** level * 8
        weights[f"levels.{i}.a.weight"] = uniform((f, cin, 3, 3), cin * 9)
        weights[f"levels.{i}.a.bias"] = uniform((f,), cin * 9)
        for branch in ("b1", "c1"):
            weights[f"levels.{i}.{branch}.weight"] = uniform((2 * f, cin, 1, 1), cin)
            weights[f"levels.{i}.{branch}.bias"] = uniform((2 * f,), cin)
        weights[f"levels.{i}.b2.weight"] = uniform((2 * f, f, 3, 3), f * 9)
        weights[f"levels.{i}.b2.bias"] = uniform((f,), f * 9)
        weights[f"levels.{i}.c2.weight"] = uniform((2 * f, f, 1, 1), f)
        weights[f"levels.{i}.c2.bias"] = uniform((f,), f)
        bn(f"levels.{i}.bn", 3 * f)
        cin = 3 * f
    weights["out.weight"] = uniform((1, cin, 3, 3), cin * 9)
    weights["out.bias"] = uniform((1,), cin * 9)
    weights = {k: f32(v).astype(np.float64) for k, v in weights.items()}  # what the file holds

    def leaky(x):
        return np.where(x > 0, x, 0.2 * x)

    def norm(x, name, training):
        g, b = weights[f"{name}.weight"], weights[f"{name}.bias"]
        if training:
            return batch_norm_train(x, g, b)[0]
        rm, rv = weights[f"{name}.running_mean"], weights[f"{name}.running_var"]
        return (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5) * g[None, :, None, None] \
            + b[None, :, None, None]

    def forward(z, training):
        x = z @ weights["fc.weight"].T + weights["fc.bias"]
        x = leaky(norm(x.reshape(len(z), c0, 4, 4), "bn0", training))
        for i in range(4):
            w = lambda name: weights[f"levels.{i}.{name}.weight"]
            b = lambda name: weights[f"levels.{i}.{name}.bias"]
            a = conv2d(x, w("a"), b("a"), 1, 1).repeat(2, axis=2).repeat(2, axis=3)
            bb = conv_transpose2d(conv2d(x, w("b1"), b("b1"), 1, 0), w("b2"), b("b2"), 2, 1, 1)
            cc = conv_transpose2d(conv2d(x, w("c1"), b("c1"), 1, 0), w("c2"), b("c2"), 2, 0, 1)
            x = leaky(norm(np.concatenate([a, bb, cc], axis=1), f"levels.{i}.bn", training))
        return np.tanh(conv2d(x, weights["out.weight"], weights["out.bias"], 1, 1))

    z = f32(rng.normal(size=(2, latent))).astype(np.float64)
    save_file({k: f32(v) for k, v in weights.items()}, str(GAN_FIXTURES / "compact_generator.safetensors"),
              metadata={"preset": "compact", "latent_dim": "128", "resolution": "64", "channels": "1"})
    save_file({"latents": f32(z), "training": f32(forward(z, True)), "inference": f32(forward(z, False))},
              str(GAN_FIXTURES / "compact_generator_io.safetensors"))


if __name__ == "__main__":
    ops()
    backbone_layers()
    adam()
    compact_generator()
