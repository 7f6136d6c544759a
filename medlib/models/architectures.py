"""Model architectures, all built from scratch (no weight downloads), in Keras' functional API.

TensorFlow is imported only when a builder is called, so ``import medlib`` stays light.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlib.errors import ModelError
from medlib.limits import available_cpus

DEFAULT_CLASSIFIER = "resnet-small"
DEFAULT_SEGMENTER = "unet"
DEFAULT_DETECTOR = "centernet"
#: Batch-norm momentum when the caller does not give one (Keras' own default).
BN_MOMENTUM = 0.99


def bn_momentum_for(steps_per_epoch: int) -> float:
    """A batch-norm momentum whose averaging window is about one epoch (10 to 100 steps).

    With few steps per epoch, Keras' 0.99 leaves the moving statistics far behind the
    weights, and validation sits at chance while the training loss falls.
    """
    return 1.0 - 1.0 / max(10, min(100, steps_per_epoch))


@functools.cache
def size_thread_pools() -> int:
    """Size TensorFlow's thread pools to the CPUs this process may use (its container's quota, see
    :func:`medlib.limits.available_cpus`), not the host's count, or to ``$MEDLIB_THREADS`` (each of several
    worker processes on one machine takes its share), once per process (before TensorFlow starts its runtime:
    afterwards its pools are set for good). Returns that count."""
    import os

    import tensorflow as tf

    cpus = int(os.environ.get("MEDLIB_THREADS") or 0) or available_cpus()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:  # the runtime has started: its pools are set for good
        pass
    return cpus


def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    size_thread_pools()
    return keras


def dense_head(model: Any) -> Any:
    """The model's last layer when it is a dense layer (its kernel turns features into class logits), else ``None``."""
    last = model.layers[-1]
    return last if hasattr(last, "kernel") and len(last.kernel.shape) == 2 else None


def features_model(model: Any) -> Any:
    """A probe model giving the features that the last dense layer turns into logits (the model is not changed)."""
    head = dense_head(model)
    if head is None:
        raise ModelError(f"{model.name} does not end in a dense layer; it has no feature vector to read")
    return _keras().Model(model.inputs, head.input)


def _head(x, num_classes: int):
    if num_classes == 2:
        return _keras().layers.Dense(1, activation="sigmoid", name="probability")(x)
    return _keras().layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


def build_seed_cnn(input_shape: tuple[int, int, int], num_classes: int = 2, bn_momentum: float = BN_MOMENTUM) -> Any:
    """The seed article's CNN: three convolution/pooling pairs, a dense layer, a sigmoid (softmax for >2 classes).

    It has no batch norm; ``bn_momentum`` is accepted so that every builder takes the same arguments.
    """
    keras = _keras()
    layers = keras.layers
    if min(input_shape[:2]) < 22:
        raise ModelError(f"seed-cnn needs images of at least 22×22 (three 3×3 convs and pools); got {input_shape[:2]}")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{filters}")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="hidden")(x)
    return keras.Model(inputs, _head(x, num_classes), name="seed_cnn")


def _residual_block(x, filters: int, stride: int, name: str, bn_momentum: float):
    layers = _keras().layers
    shortcut = x
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn1")(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn2")(x)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_proj_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add()([x, shortcut]))


def build_resnet_small(
    input_shape: tuple[int, int, int],
    num_classes: int = 2,
    width: int = 32,
    dropout: float = 0.3,
    bn_momentum: float = BN_MOMENTUM,
) -> Any:
    """A compact residual CNN: batch norm, global pooling and dropout; its depth follows the input size.

    The stem shrinks inputs of 48 pixels and more (by 4 from 96), then each
    stage halves the resolution and doubles the width (up to four times the
    stem's) down to about 4×4 (at most three stages), so 28×28 and 256×256
    inputs both work on a CPU and the model file stays under 2 MB.
    """
    keras = _keras()
    layers = keras.layers
    side = min(input_shape[:2])
    if side < 8:
        raise ModelError(f"resnet-small needs images of at least 8×8; got {input_shape[:2]}")
    inputs = keras.Input(input_shape, name="image")
    stem_stride = 2 if side >= 96 else 1  # large inputs shrink early, as ResNets do: CPU time stays small
    x = layers.Conv2D(width, 3, strides=stem_stride, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(momentum=bn_momentum, name="stem_bn")(x)
    x = layers.ReLU()(x)
    if side >= 48:
        x = layers.MaxPooling2D(2, name="stem_pool")(x)
    resolution = side // (stem_stride * (2 if side >= 48 else 1))
    stages = max(1, min(3, int(math.log2(resolution / 4))))
    x = _residual_block(x, width, 1, "stage0", bn_momentum)
    for stage in range(1, stages + 1):
        x = _residual_block(x, min(width * 2**stage, 4 * width), 2, f"stage{stage}", bn_momentum)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, _head(x, num_classes), name="resnet_small")


def unet_depth(side: int) -> int:
    """A U-Net's depth for inputs of ``side`` pixels: 3 levels up to 128 (a 16-pixel bottom), one more for each
    doubling beyond (so the bottom still sees most of a large input), at most 5.

    >>> [unet_depth(s) for s in (64, 128, 256, 512, 1024)]
    [3, 3, 4, 5, 5]
    """
    return int(min(5, max(3, round(math.log2(max(side, 1) / 16)))))


def unet_depth_for(input_shape: tuple[int, ...]) -> int:
    """:func:`unet_depth` of an input's short side, less where its sides do not halve as often (at least 3).

    >>> unet_depth_for((256, 256, 1)), unet_depth_for((264, 264, 1))
    (4, 3)
    """
    sides = [side for side in input_shape[:-1] if side > 1] or [1]  # a side of 1: one slice, never halved
    depth = unet_depth(min(sides))
    while depth > 3 and any(side % 2**depth for side in sides):
        depth -= 1
    return depth


def _unet_features(input_shape: tuple[int, ...], width: int, depth: int | None, bn_momentum: float) -> tuple[Any, Any]:
    """A U-Net's input and its last level's features at the input's resolution (see :func:`build_unet`)."""
    keras = _keras()
    layers = keras.layers
    depth = depth or unet_depth_for(input_shape)
    factor = 2**depth
    if any(side % factor for side in input_shape[:-1] if side > 1):
        raise ModelError(f"a U-Net of depth {depth} needs sides divisible by {factor}; got {input_shape[:-1]}")
    flat = len(input_shape) == 3
    conv, pool, up = (layers.Conv2D, layers.MaxPooling2D, layers.Conv2DTranspose) if flat else \
        (layers.Conv3D, layers.MaxPooling3D, layers.Conv3DTranspose)
    kernel = 3 if flat else tuple(3 if side > 1 else 1 for side in input_shape[:-1])
    halve = 2 if flat else tuple(2 if side > 1 else 1 for side in input_shape[:-1])

    def double_conv(x, filters: int, name: str):
        for k in (1, 2):
            x = conv(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv{k}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{k}")(x)
            x = layers.ReLU()(x)
        return x

    def filters(level: int) -> int:
        return width * 2 ** min(level, 3 if depth <= 3 else 2)

    inputs = keras.Input(input_shape, name="image")
    skips, x = [], inputs
    for level in range(depth):
        x = double_conv(x, filters(level), f"down{level}")
        skips.append(x)
        x = pool(halve)(x)
    x = double_conv(x, filters(depth), "bottom")
    for level in reversed(range(depth)):
        x = up(filters(level), halve, strides=halve, name=f"up{level}_t")(x)
        x = layers.Concatenate()([x, skips[level]])
        x = double_conv(x, filters(level), f"up{level}")
    return inputs, x


def build_unet(
    input_shape: tuple[int, ...],
    num_classes: int = 2,
    width: int = 16,
    depth: int | None = None,
    bn_momentum: float = BN_MOMENTUM,
) -> Any:
    """A U-Net with batch norm; one sigmoid map per structure (``num_classes`` counts the background and the
    structures: two classes give one foreground map). Sigmoid maps rather than one softmax: the one-structure
    model is the binary one, and structures may overlap (a nodule inside a lung). An input of (H, W, C) gives a 2-D
    U-Net, one of (D, H, W, C) a 3-D one (3×3×3 convolutions, as nnU-Net's 3d_fullres), alike in every other way;
    a 3-D side of 1 (one slice of a thin stack) is convolved, pooled and upsampled in its plane only: a 2-D U-Net
    over slices (3×3×1 convolutions, as nnU-Net's 2d configuration).

    ``depth`` defaults to :func:`unet_depth` of the input's short side, less where the sides do not halve as often.
    Each level doubles the width; a deeper U-Net (for larger inputs: more context, not more capacity) stops at
    four times the first level's, so at depth 4 it stays about the size of a depth-3 one (0.52 M parameters and a
    2.3 MB file instead of 1.9 M and 8 MB).
    """
    keras = _keras()
    inputs, x = _unet_features(input_shape, width, depth, bn_momentum)
    conv = keras.layers.Conv2D if len(input_shape) == 3 else keras.layers.Conv3D
    outputs = conv(num_classes - 1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name="unet" if len(input_shape) == 3 else "unet3d")


def build_centernet(input_shape: tuple[int, int, int], num_classes: int = 2, width: int = 16, depth: int | None = None,
                    bn_momentum: float = BN_MOMENTUM) -> Any:
    """A U-Net with CenterNet's heads (Zhou et al. 2019) at stride 1 (a 6-pixel nodule keeps its centre pixel): a
    sigmoid map of centres per finding label, then a map of radii in pixels; one output, so tiles, mirrors and
    ensembles treat it as any map."""
    layers = _keras().layers
    inputs, x = _unet_features(input_shape, width, depth, bn_momentum)
    heat = layers.Conv2D(width, 3, padding="same", activation="relu", name="heat_conv")(x)
    heat = layers.Conv2D(num_classes - 1, 1, activation="sigmoid", name="heat")(heat)
    size = layers.Conv2D(width, 3, padding="same", activation="relu", name="size_conv")(x)
    size = layers.Conv2D(1, 1, activation="softplus", name="size")(size)
    return _keras().Model(inputs, layers.Concatenate(name="centres")([heat, size]), name="centernet")


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its builder, whether it answers with maps (segmentation, localization) or one
    vector per image (classification), and a line for people."""

    name: str
    dense: bool
    build: Callable[..., Any]
    description: str
    centres: bool = False
    """Whether its maps are object centres with their sizes (a detector's), not probabilities per pixel."""


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(DEFAULT_CLASSIFIER, False, build_resnet_small,
                     "compact residual CNN with batch norm, global pooling and dropout (default)"),
        Architecture("seed-cnn", False, build_seed_cnn, "the seed article's three-convolution CNN (baseline)"),
        Architecture(DEFAULT_SEGMENTER, True, build_unet, "U-Net, one sigmoid map per structure"),
        Architecture(DEFAULT_DETECTOR, True, build_centernet,
                     "U-Net with CenterNet heads: a map of finding centres and one of their radii", centres=True),
    )
}


def build_model(
    name: str, input_shape: tuple[int, ...], num_classes: int = 2, bn_momentum: float = BN_MOMENTUM,
    width: int = 0, prior: float | None = None,
) -> Any:
    """Build a registered architecture for an input shape (H, W, C), a class count and a batch-norm momentum;
    ``width``, where not 0, is a U-Net's or residual CNN's first-level filter count (else its own default).
    ``prior``: the probability a map model's output starts at everywhere (its last bias set to that logit, as
    RetinaNet starts its rare-object maps at 0.01): maps of rare findings then start near zero and learn where
    they are, instead of first unlearning a half everywhere."""
    if name not in ARCHITECTURES:
        raise ModelError(f"unknown model {name!r}; choose one of {sorted(ARCHITECTURES)}")
    if num_classes < 2:
        raise ModelError(f"a model needs at least two classes, got {num_classes}")
    options = {"width": width} if width else {}
    model = ARCHITECTURES[name].build(tuple(int(v) for v in input_shape), num_classes, bn_momentum=bn_momentum,
                                      **options)
    if prior is not None and ARCHITECTURES[name].dense:
        head = model.get_layer("heat" if ARCHITECTURES[name].centres else "mask")
        kernel, bias = head.get_weights()
        head.set_weights([kernel, np.full_like(bias, np.log(prior / (1.0 - prior)))])
    return model
