"""Calibration and simulation under tf.distribute strategies give the one-process result.

- ``MirroredStrategy`` across two logical CPU devices (configured before TensorFlow initialises, so in a subprocess);
- ``MultiWorkerMirroredStrategy`` with two local worker processes (``TF_CONFIG``, free ports on 127.0.0.1): each
  worker's copy of the data is NaN outside the rows of its own shards, so reading another worker's rows would show.
"""

import json
import os
import pathlib
import socket
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
from spkeras.calibration.statistics import input_range
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "ranges": [input_range(x, 7), input_range(x, 7, strategy=strategy)],
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
    assert report["spikes_one"] == report["spikes_two"]
    assert report["ranges"][0] == report["ranges"][1]
    for pair in report["thresholds"]:
        half = len(pair) // 2
        assert pair[:half] == pair[half:]


def test_resolve_strategy_checks_its_argument():
    assert resolve_strategy(None) is None
    with pytest.raises(TypeError, match="Received"):
        resolve_strategy("mirrored")
    with pytest.raises(TypeError, match="Received"):
        spkeras.evaluate(None, np.zeros((1, 2)), np.zeros(1), strategy="tpu")


def test_parameter_server_strategy_is_refused_with_the_alternative():
    import tensorflow as tf

    # An instance without a cluster (its type is what matters): asynchronous steps cannot give exact reductions.
    strategy = object.__new__(tf.distribute.experimental.ParameterServerStrategy)
    with pytest.raises(ValueError, match="Received: strategy=ParameterServerStrategy.*MultiWorkerMirroredStrategy"):
        resolve_strategy(strategy)


WORKER = r'''
import json, sys, time
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()
import keras
import numpy as np

sys.path.insert(0, sys.argv[1])
import spkeras
from spkeras.analytic import estimate_closed_form
from spkeras.calibration import max_input_current
from spkeras.distribute import shard_bounds
from spkeras.simulate import record
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs

worker, BATCH, COUNT, T = int(sys.argv[2]), 16, 49, 8  # 49 = 3 x 16 + 1: one worker's last shard is empty
started = time.time()
model = tiny_cnn()
x_calibration, x = tiny_inputs(60, seed=2), tiny_inputs(COUNT)
y = labels_from(model, x)

def thresholds(snn):
    return [np.ravel(keras.ops.convert_to_numpy(l.threshold)).tolist() for l in snn.layers if hasattr(l, "threshold")]

def own_rows(count):
    """The rows this worker reads; all others are NaN in its copy, so reading one would show."""
    mine = np.zeros(count, bool)
    for start in range(0, count, BATCH):
        begin, end = shard_bounds(start, min(start + BATCH, count), worker, strategy.num_replicas_in_sync)
        mine[begin:end] = True
    return mine

def poisoned(data):
    return np.where(own_rows(len(data)).reshape((-1,) + (1,) * (data.ndim - 1)), data, np.nan).astype("float32")

def results(snn, data, calibration, **kwargs):
    simulated = spkeras.evaluate(snn, data, y, timesteps=T, batch_size=BATCH, ann=model, **kwargs)
    poisson = spkeras.evaluate(snn, data, y, timesteps=T, batch_size=BATCH, encoding="poisson", seed=3, **kwargs)
    rates = record(snn, data, timesteps=T, batch_size=BATCH, **kwargs)
    closed = estimate_closed_form(snn, data, y, T, batch_size=BATCH, **kwargs)
    neuron = [layer for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)][-1]
    current = max_input_current(keras.Model(snn.inputs, neuron.input), calibration, T, batch_size=BATCH, **kwargs)
    return {
        "accuracy": simulated.accuracy.tolist(), "spikes": simulated.spikes_per_step.tolist(),
        "ann_accuracy": simulated.ann_accuracy, "poisson": poisson.accuracy.tolist(),
        "poisson_spikes": poisson.spikes_per_step.tolist(),
        "record": {name: value.tolist() for name, value in rates.items()},
        "closed_form": [closed.accuracy, closed.spikes_per_image], "max_current": current.tolist(),
    }

single = spkeras.convert(model, x_calibration, method="robust", batch_size=BATCH)
one = {"thresholds": thresholds(single), **results(single, x, x_calibration)}
distributed = spkeras.convert(model, x_calibration, method="robust", batch_size=BATCH, strategy=strategy)
calibration_shards = poisoned(x_calibration)
batches = tf.data.Dataset.from_tensor_slices(x_calibration).batch(BATCH)  # 4 batches (the last of 12), 2 per worker
from_dataset = spkeras.convert(model, batches, method="robust", strategy=strategy)
one["thresholds_dataset"] = one["thresholds"]
two = {"thresholds_dataset": thresholds(from_dataset), "thresholds": thresholds(distributed)}
two.update(results(single, poisoned(x), calibration_shards, strategy=strategy))
print(json.dumps({"worker": worker, "replicas": strategy.num_replicas_in_sync, "one": one, "two": two,
                  "seconds": time.time() - started}))
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multi_worker_mirrored_strategy_gives_every_worker_the_one_process_result():
    root = pathlib.Path(__file__).resolve().parents[1]
    addresses = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    workers = []
    for index in range(2):
        environment = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        environment.update(
            TF_CONFIG=json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}),
            TF_CPP_MIN_LOG_LEVEL="3",
            CUDA_VISIBLE_DEVICES="",
        )
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(root), str(index)],
                env=environment,
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        outputs = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    reports = []
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    assert [report["worker"] for report in reports] == [0, 1]
    for report in reports:
        assert report["replicas"] == 2
        assert set(report["one"]) == set(report["two"])
        for key in report["one"]:  # thresholds, accuracy curves, spike counts, record, closed form, currents
            assert report["two"][key] == report["one"][key], (report["worker"], key)
    assert reports[0]["one"] == reports[1]["one"]
    assert 0 < reports[0]["one"]["accuracy"][-1] <= 1 and sum(map(sum, reports[0]["one"]["spikes"])) > 0
