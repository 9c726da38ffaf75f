"""Evaluation and calibration under tf.distribute.MirroredStrategy across two logical CPU devices.

Logical devices can only be configured before TensorFlow initialises, so the check runs in a subprocess.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import spkeras
from spkeras.distribute import resolve_strategy

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
sys.path.insert(0, sys.argv[1])
import spkeras
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs

model = tiny_cnn()
x = tiny_inputs(50)
y = labels_from(model, x)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
single = spkeras.convert(model, x, method="robust")
with strategy.scope():
    mirrored = spkeras.convert(model, x, method="robust", batch_size=20)
def values(layer):
    return [float(v) for v in np.ravel(keras.ops.convert_to_numpy(layer.threshold))]
thresholds = [values(a) + values(b) for a, b in zip(single.layers, mirrored.layers) if hasattr(a, "threshold")]
one = spkeras.evaluate(single, x, y, timesteps=16, batch_size=20)
two = spkeras.evaluate(single, x, y, timesteps=16, batch_size=20, strategy=strategy)
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "accuracy_one": one.accuracy.tolist(), "accuracy_two": two.accuracy.tolist(),
    "spikes_one": float(one.spikes_per_image()), "spikes_two": float(two.spikes_per_image()),
    "thresholds": thresholds,
}))
"""


def test_mirrored_strategy_on_two_cpus_matches_one_device():
    root = pathlib.Path(__file__).resolve().parents[1]
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, timeout=600, cwd=root
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["accuracy_one"] == report["accuracy_two"]
    assert report["spikes_one"] == pytest.approx(report["spikes_two"], rel=1e-6)
    for pair in report["thresholds"]:
        half = len(pair) // 2
        np.testing.assert_allclose(pair[:half], pair[half:], rtol=1e-6)


def test_resolve_strategy_checks_its_argument():
    assert resolve_strategy(None) is None
    with pytest.raises(TypeError, match="Received"):
        resolve_strategy("mirrored")
    with pytest.raises(TypeError, match="Received"):
        spkeras.evaluate(None, np.zeros((1, 2)), np.zeros(1), strategy="tpu")
