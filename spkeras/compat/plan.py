"""Bit-exact reproduction of the original SpKeras closed-form conversion (``cnn_to_snn(legacy=True)``).

The original tool (Wu, Yi & Huang 2022; github.com/Dengyu-Wu/spkeras) has no time loop: every spiking layer
outputs the total spike count of each neuron over T steps in closed form. This module reproduces its numbers
exactly (float32, same operation order), including the behaviour later fixed in :mod:`spkeras.models`'s
default mode:

- λ: ``λ0 = max(x_train)``; for every ReLU site, average-pooling layer and the pre-softmax output, the maximum
  over the first ``⌊N/100⌋·100`` calibration images (batches of 100) of the ANN's own output, with batch norm
  evaluated as Keras 2 did (fused kernel for 4-D tensors);
- batch norm folded with the **global** ``epsilon`` argument, not the layer's own epsilon (SpKeras bug 1);
- ``W' = κ·W/r`` with ``r = λ_l/λ_{l−1}``, a zero layer bias, bias current ``β = κ·b/λ_l`` and threshold
  ``θ = κ``; average pooling gets its own spiking layer with ``θ = λ_pool/λ_prev``;
- quantisation (``signed_bit = n+1 > 1``): ``W_q = trunc(W·2^n/norm)/2^n`` with ``norm = max|W|``,
  ``β = κ·b/λ_l/norm`` and the scale-inconsistent threshold ``θ = norm·κ`` (SpKeras bug 2, reproduced);
- count ``= clip(floor((relu(Q + β·T') + thresholding·θ_eff)/θ_eff), 0, T')`` with ``T' = T + spike_ext``,
  ``θ_eff = scaling_factor·θ`` (``noneloss=True``: no floor and no ``+θ/2``; ``spike_ext < 0``: no clip);
- input ``floor(x·T)``; the output layer spikes too; prediction = first index of the largest count.

The structure is read from the model graph (:func:`spkeras.conversion.lower.lower_model`), never from layer
names; models outside the SpKeras layer pattern (every Conv2D/Dense followed by a ReLU, after an optional
batch norm, except the last one) are refused with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from spkeras import graph
from spkeras.compat.layers import Keras2BatchNorm, float32_array
from spkeras.conversion.ir import Node
from spkeras.conversion.lower import lower_model

logger = logging.getLogger(__name__)

CALIBRATION_BATCH = 100  # the original measured λ in batches of 100 and ignored the last N % 100 images
POOLING_LAYERS = (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D)


@dataclasses.dataclass
class LegacyStep:
    """One layer of the converted closed-form network.

    Attributes:
        kind: ``"linear"`` (Conv2D/Dense with rescaled kernel, zero bias), ``"spike"`` or ``"structural"``.
        name: Base name of the new layer.
        make_layer: For linear and structural steps: ``make_layer(name)`` returns a fresh Keras layer.
        kernel: For linear steps: the float32 kernel ``W'``.
        threshold: For spike steps: θ (float32).
        bias: For spike steps: the bias current β (float32 scalar or per-channel array).
    """

    kind: str
    name: str
    make_layer: Callable[[str], keras.layers.Layer] | None = None
    kernel: np.ndarray | None = None
    threshold: np.float32 | None = None
    bias: np.ndarray | np.float32 | None = None


@dataclasses.dataclass
class LegacyPlan:
    """What the legacy conversion computed (the equivalent of the original's converted model).

    Attributes:
        steps: The layers of the closed-form network, in order.
        lambdas: ``[λ0, λ1, …]`` (float32): input maximum, then one per spiking layer.
        norm_factors: ``r_j = λ_j / λ_{j−1}`` (float32).
        input_shape: Model input shape without the batch axis.
        softmax: Whether the source model ends with a softmax (kept as the last layer, as the original did).
        name: Name of the source model.
    """

    steps: list[LegacyStep]
    lambdas: list[np.float32]
    norm_factors: list[np.float32]
    input_shape: tuple
    softmax: bool
    name: str

    @property
    def thresholds(self) -> list[float]:
        return [float(step.threshold) for step in self.steps if step.kind == "spike"]


def _pattern_error(node: Node, reason: str) -> ValueError:
    return ValueError(
        f"cnn_to_snn(legacy=True) cannot reproduce SpKeras on this model: layer '{node.name}' "
        f"({type(node.source).__name__}) {reason}. SpKeras's closed form needs every Conv2D/Dense followed by a "
        "ReLU (after an optional BatchNormalization), except the last one. Use legacy=False (the default), which "
        "converts any model spkeras.convert supports."
    )


def _layout(nodes: list[Node]) -> list[tuple]:
    """Groups the IR into SpKeras units; each ReLU, pooling layer and the output gets a λ.

    Returns:
        A list of ``("linear", linear_index, bn_indices, site_index)``, ``("pool", index)`` and
        ``("structural", index)``; the site of the last linear unit may be the model output.
    """
    units, pending = [], None
    for index, node in enumerate(nodes[1:], start=1):
        if node.inputs != (index - 1,):
            raise _pattern_error(node, "is not part of a plain chain of layers (branches are not supported)")
        if node.kind not in ("linear", "batchnorm", "neuron", "structural"):
            raise _pattern_error(node, f"becomes a '{node.kind}' step, which SpKeras's closed form never had")
        if node.kind == "linear" and type(node.source) not in (keras.layers.Conv2D, keras.layers.Dense):
            raise _pattern_error(node, "is not a plain Conv2D/Dense (SpKeras converted only those)")
        if (
            node.kind == "structural"
            and node.map_scale is not None
            and not isinstance(node.source, keras.layers.Flatten)
        ):
            raise _pattern_error(node, "changes the channel layout, which SpKeras's closed form never handled")
        if node.kind == "linear":
            if pending is not None:
                raise _pattern_error(node, f"follows '{nodes[pending[0]].name}' without a ReLU in between")
            pending = (index, [])
        elif node.kind == "batchnorm":
            if pending is None:
                raise _pattern_error(node, "does not directly follow a Conv2D/Dense")
            pending[1].append(index)
        elif node.kind == "neuron":
            if pending is None:
                raise _pattern_error(node, "is a ReLU that does not follow a Conv2D/Dense")
            units.append(("linear", pending[0], pending[1], index))
            pending = None
        elif pending is not None:
            raise _pattern_error(node, f"follows '{nodes[pending[0]].name}' before its ReLU")
        else:
            units.append(("pool" if isinstance(node.source, POOLING_LAYERS) else "structural", index))
    if pending is not None:
        units.append(("linear", pending[0], pending[1], len(nodes) - 1))
    return units


def _site_indices(units) -> list[int]:
    return [unit[3] if unit[0] == "linear" else unit[1] for unit in units if unit[0] in ("linear", "pool")]


def _calibration_probe(nodes: list[Node], sites: list[int], input_shape: tuple) -> keras.Model:
    """The source ANN (BN as Keras 2 computed it) with one output per λ site."""
    inputs = keras.Input(input_shape)
    values = {0: inputs}
    for index, node in enumerate(nodes[1:], start=1):
        tensor = values[node.inputs[0]]
        if node.kind == "linear":
            layer = node.make_layer(f"probe_{index}")
            values[index] = layer(tensor)
            layer.set_weights([node.kernel.astype("float32"), node.bias.astype("float32")])
        elif node.kind == "batchnorm":
            values[index] = Keras2BatchNorm(node.source, name=f"probe_{index}")(tensor)
        elif node.kind == "neuron":
            values[index] = keras.layers.Activation("relu", name=f"probe_{index}")(tensor)
        else:
            values[index] = node.make_layer(f"probe_{index}")(tensor)
    return keras.Model(inputs, [values[site] for site in sites])


def measure_lambdas(nodes: list[Node], sites: list[int], x_train: np.ndarray) -> list[np.float32]:
    """λ0 = max(x_train), then per site the max over the first ⌊N/100⌋·100 images (batches of 100)."""
    used = (len(x_train) // CALIBRATION_BATCH) * CALIBRATION_BATCH
    if used == 0:
        raise ValueError(
            f"cnn_to_snn(legacy=True) needs at least {CALIBRATION_BATCH} calibration images: SpKeras measures λ "
            f"over whole batches of {CALIBRATION_BATCH} and ignores the rest. Received: {len(x_train)} images. "
            "Pass more images, or use legacy=False, which uses every image."
        )
    probe = _calibration_probe(nodes, sites, tuple(x_train.shape[1:]))
    batch_max = tf.function(lambda x: [tf.reduce_max(value) for value in probe(x, training=False)])
    maxima = [np.float32(0.0)] * len(sites)
    for start in range(0, used, CALIBRATION_BATCH):
        batch = np.asarray(x_train[start : start + CALIBRATION_BATCH], dtype="float32")
        maxima = [max(m, np.float32(v.numpy())) for m, v in zip(maxima, batch_max(batch))]
    logger.info("Measured λ over %d of %d calibration images.", used, len(x_train))
    return [np.float32(np.max(x_train))] + maxima


def _fold(nodes: list[Node], linear: int, batchnorms: list[int], epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Folds the batch norms into the linear layer with the global ``epsilon`` (as SpKeras did), in float32."""
    kernel = nodes[linear].kernel.astype("float32")
    bias = nodes[linear].bias.astype("float32")
    for index in batchnorms:
        layer = nodes[index].source
        variance = float32_array(layer.moving_variance)
        gamma = float32_array(layer.gamma) if layer.scale else np.ones_like(variance)
        beta = float32_array(layer.beta) if layer.center else np.zeros_like(variance)
        scale = gamma / np.sqrt(variance + float(epsilon))
        kernel = scale * kernel
        bias = scale * (bias - float32_array(layer.moving_mean)) + beta
    return kernel, bias


def _ends_with_softmax(model: keras.Model) -> bool:
    layer = graph.model_graph(model)[-1].layer
    return isinstance(layer, keras.layers.Softmax) or getattr(layer, "activation", None) is keras.activations.softmax


def convert_legacy(
    model: keras.Model,
    x_train: np.ndarray,
    amp_factor: float = 100,
    epsilon: float = 0.001,
    signed_bit: int = 0,
    user_define: float = 0,
) -> LegacyPlan:
    """Computes what SpKeras's ``cnn_to_snn()(model, x_train)`` computed: λ, rescaled kernels, θ and β.

    Args:
        model: The source ANN.
        x_train: Calibration images (float NumPy array).
        amp_factor: κ.
        epsilon: The ε used for every batch-norm fold (the layers' own ε are ignored, as in SpKeras).
        signed_bit: Weight bit width including the sign; 0 or 1 = float weights (as in SpKeras).
        user_define: If non-zero, replaces every λ except λ0 and the output's.

    Returns:
        A :class:`LegacyPlan`; build a Keras model from it with :func:`build_legacy_model`.

    Examples:
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> plan = convert_legacy(cnn, spkeras.demo.load_sample()["x_calibration"][:100])
        >>> len(plan.lambdas) == len(plan.norm_factors) + 1, plan.thresholds[0]
        (True, 100.0)
    """
    nodes = lower_model(model, max_pooling="average")  # the compatibility path keeps its measured behaviour
    units = _layout(nodes)
    sites = _site_indices(units)
    lambdas = measure_lambdas(nodes, sites, x_train)
    if user_define:
        output_site = len(nodes) - 1 if units and units[-1][0] == "linear" and units[-1][3] == len(nodes) - 1 else None
        lambdas = [lambdas[0]] + [
            value if site == output_site else np.float32(user_define) for site, value in zip(sites, lambdas[1:])
        ]
    if any(not value > 0 for value in lambdas):
        raise ValueError(
            f"A λ is not positive (a layer never activated on the calibration data). Received: λ="
            f"{[float(v) for v in lambdas]}. Pass more varied calibration images, or use legacy=False."
        )
    norm_factors = [np.float32(lambdas[j + 1] / lambdas[j]) for j in range(len(lambdas) - 1)]
    bits = signed_bit - 1 if signed_bit > 0 else 0  # SpKeras: signed_bit=1 means no quantisation
    steps: list[LegacyStep] = []
    j = 0
    for unit in units:
        if unit[0] == "structural":
            steps.append(LegacyStep("structural", nodes[unit[1]].name, make_layer=nodes[unit[1]].make_layer))
            continue
        ratio, lam = norm_factors[j], lambdas[j + 1]
        j += 1
        if unit[0] == "pool":
            node = nodes[unit[1]]
            steps.append(LegacyStep("structural", node.name, make_layer=node.make_layer))
            steps.append(LegacyStep("spike", node.name, threshold=ratio, bias=np.float32(0.0)))
            continue
        _, linear, batchnorms, _ = unit
        kernel, bias = _fold(nodes, linear, batchnorms, epsilon)
        threshold = np.float32(amp_factor)
        if bits:
            norm = np.max(np.abs(kernel))
            quantised = (kernel * 2**bits / norm).astype(int) / 2**bits
            new_kernel = (amp_factor * quantised / ratio).astype("float32")
            current = (amp_factor * bias / lam / norm).astype("float32")
            threshold = np.float32(norm * np.float32(amp_factor))
            logger.info("Layer '%s': maximum weight %g, threshold %g.", nodes[linear].name, norm, threshold)
        else:
            new_kernel = amp_factor * kernel / ratio
            current = amp_factor * bias / lam
        steps.append(LegacyStep("linear", nodes[linear].name, make_layer=nodes[linear].make_layer, kernel=new_kernel))
        steps.append(LegacyStep("spike", nodes[linear].name, threshold=threshold, bias=current))
    plan = LegacyPlan(
        steps=steps,
        lambdas=lambdas,
        norm_factors=norm_factors,
        input_shape=tuple(model.inputs[0].shape[1:]),
        softmax=_ends_with_softmax(model),
        name=model.name,
    )
    logger.info("SpKeras λ: %s; thresholds: %s.", [float(v) for v in lambdas], plan.thresholds)
    return plan
