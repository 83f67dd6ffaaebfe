#!/usr/bin/env python3
"""Train and quantise the digits classifier used by `compute_market_workloads::digits`.

Reproduce (nothing is downloaded: the 8x8 digits ship inside scikit-learn):

    python3 -m venv /tmp/digits-venv
    /tmp/digits-venv/bin/pip install scikit-learn numpy
    /tmp/digits-venv/bin/python workloads/digits/train.py

The committed `model.bin` and `digits.bin` were written with scikit-learn 1.9.1 and NumPy 2.4.6
(another version may train slightly different float weights; the Rust tests read the committed
files, so they do not depend on this script being rerun).

Model: 64 -> 32 -> 16 -> 10, ReLU, trained in float on pixels / 16 with a fixed random state.

Integer pipeline (the Rust CPU reference and both WGSL variants compute exactly this; every
intermediate value provably fits in i32, which `check_no_overflow` asserts for the worst case
of each layer, so i32 and Python's unbounded ints agree):

    x0[i]   = pixel[i]                                    (0..=16, an int8)
    acc[o]  = b[o] + sum_i w[o][i] * x[i]                 (w int8 in -127..=127, b and acc i32)
    hidden:  x'[o] = clamp((acc[o] * m + (1 << (s - 1))) >> s, 0, 127)
             (m, s: the layer's multiplier and shift, 1 <= s <= 31; `>>` is an arithmetic shift,
              so this is round-half-up of acc * m / 2^s; the clamp is ReLU plus int8 saturation)
    last:    logits[o] = acc[o]                           (i32, no requantisation)
    class  = the lowest index o with the largest logit

Quantisation: per-layer symmetric weight scale s_w = max|W| / 127, w = round(W / s_w);
activation scale s_a = (largest float activation of the layer on the training split) / 127, the
input scale being 1/16; b = round(B / (s_in * s_w)); m / 2^s approximates s_in * s_w / s_out
with the largest s for which the layer's worst-case |acc| * m + 2^(s-1) stays below 2^31.

model.bin (little-endian):
    magic b"CMDM", u32 version = 1, u32 layer count L, then for each layer:
    u32 in, u32 out, i32 multiplier, u32 shift (both 0 in the last layer),
    i8 weights[out][in] (row-major), i32 bias[out]

digits.bin (little-endian):
    magic b"CMDD", u32 version = 1, u32 count N, u32 pixels per image (64),
    u8 pixels[N][64] (0..=16, row-major 8x8), u8 labels[N] (0..=9),
    u8 split[N] (0: training split, 1: held-out test split)
"""

import struct
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent
HIDDEN = (32, 16)
SEED = 0
I32_MAX = 2**31 - 1


def quantise(mlp, x_train_float):
    """Integer layers (w, b, m, s) from the float MLP, calibrated on the training split."""
    # Float activations of each hidden layer on the training split, for the output scales.
    acts = []
    a = x_train_float
    for w, b in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1]):
        a = np.maximum(a @ w + b, 0.0)
        acts.append(a)

    layers = []
    s_in = 1.0 / 16.0
    x_max = 16  # largest input of the current layer, in integer units
    for index, (w_f, b_f) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
        w_f = w_f.T  # sklearn stores [in][out]; we use [out][in]
        s_w = np.abs(w_f).max() / 127.0
        w = np.clip(np.round(w_f / s_w), -127, 127).astype(np.int64)
        b = np.round(b_f / (s_in * s_w)).astype(np.int64)
        worst = (np.abs(w).sum(axis=1) * x_max + np.abs(b)).max()
        last = index == len(mlp.coefs_) - 1
        if last:
            m, s = 0, 0
            assert worst <= I32_MAX, "logits could overflow i32"
        else:
            s_out = acts[index].max() / 127.0
            ratio = s_in * s_w / s_out
            m, s = choose_multiplier(ratio, worst)
            s_in, x_max = s_out, 127
        layers.append((w, b, m, s))
    return layers


def choose_multiplier(ratio, worst):
    """The largest shift s (most precision) with m = round(ratio * 2^s) overflow-free."""
    for s in range(31, 0, -1):
        m = int(round(ratio * 2.0**s))
        if 1 <= m and worst * m + (1 << (s - 1)) <= I32_MAX:
            return m, s
    raise SystemExit(f"no multiplier for ratio {ratio} with |acc| <= {worst}")


def int_forward(layers, pixels):
    """The integer pipeline (see the module docstring); returns (logits, classes)."""
    x = pixels.astype(np.int64)
    for w, b, m, s in layers[:-1]:
        acc = x @ w.T + b
        check_no_overflow(acc)
        y = acc * m + (1 << (s - 1))
        check_no_overflow(y)
        x = np.clip(y >> s, 0, 127)
    w, b, _, _ = layers[-1]
    logits = x @ w.T + b
    check_no_overflow(logits)
    # np.argmax returns the first (lowest) index of the largest value.
    return logits, np.argmax(logits, axis=1)


def check_no_overflow(values):
    assert values.min() >= -(2**31) and values.max() <= I32_MAX, "i32 overflow"


def write_model(path, layers):
    out = bytearray(b"CMDM")
    out += struct.pack("<II", 1, len(layers))
    for w, b, m, s in layers:
        out += struct.pack("<IIiI", w.shape[1], w.shape[0], m, s)
        out += w.astype(np.int8).tobytes()
        out += b.astype("<i4").tobytes()
    path.write_bytes(bytes(out))
    return len(out)


def write_digits(path, pixels, labels, test_mask):
    out = bytearray(b"CMDD")
    out += struct.pack("<III", 1, len(labels), pixels.shape[1])
    out += pixels.astype(np.uint8).tobytes()
    out += labels.astype(np.uint8).tobytes()
    out += test_mask.astype(np.uint8).tobytes()
    path.write_bytes(bytes(out))
    return len(out)


def main():
    data = load_digits()
    pixels = data.data.astype(np.int64)  # 1797 x 64, values 0..=16
    labels = data.target.astype(np.int64)
    assert pixels.min() >= 0 and pixels.max() <= 16
    indices = np.arange(len(labels))
    train_idx, test_idx = train_test_split(
        indices, test_size=0.25, random_state=SEED, stratify=labels
    )
    test_mask = np.zeros(len(labels), dtype=bool)
    test_mask[test_idx] = True

    x_float = pixels / 16.0
    mlp = MLPClassifier(
        hidden_layer_sizes=HIDDEN,
        activation="relu",
        solver="adam",
        alpha=1e-3,
        max_iter=1000,
        random_state=SEED,
    )
    mlp.fit(x_float[train_idx], labels[train_idx])
    float_pred = mlp.predict(x_float)

    layers = quantise(mlp, x_float[train_idx])
    _, int_pred = int_forward(layers, pixels)

    def acc(pred, mask):
        return 100.0 * np.mean(pred[mask] == labels[mask])

    everything = np.ones(len(labels), dtype=bool)
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", file=sys.stderr)
    print(f"architecture: 64 -> {' -> '.join(map(str, HIDDEN))} -> 10 (ReLU)")
    for index, (w, b, m, s) in enumerate(layers):
        print(f"layer {index}: {w.shape[1]} -> {w.shape[0]}, multiplier {m}, shift {s}")
    print(f"float accuracy: all {acc(float_pred, everything):.2f}% "
          f"({np.sum(float_pred == labels)}/{len(labels)}), "
          f"test {acc(float_pred, test_mask):.2f}%, train {acc(float_pred, ~test_mask):.2f}%")
    print(f"int8 accuracy:  all {acc(int_pred, everything):.2f}% "
          f"({np.sum(int_pred == labels)}/{len(labels)}), "
          f"test {acc(int_pred, test_mask):.2f}%, train {acc(int_pred, ~test_mask):.2f}%")
    print(f"int8 agrees with float on {np.sum(int_pred == float_pred)}/{len(labels)} images")
    print(f"int8 class histogram: {np.bincount(int_pred, minlength=10).tolist()}")
    print(f"model.bin: {write_model(HERE / 'model.bin', layers)} bytes")
    print(f"digits.bin: {write_digits(HERE / 'digits.bin', pixels, labels, test_mask)} bytes")


if __name__ == "__main__":
    main()
