import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# The plugin files register a method, a converter and a calibration mode when imported; the tests import them
# by path and unregister them afterwards, so --doctest-modules must not import them at collection.
collect_ignore = ["plugins"]

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _clean_keras_session():
    # free_memory=False skips clear_session's gc.collect() passes (about 0.5 s per test on a loaded machine);
    # names, graphs and seeds are reset all the same.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def shared_dir():
    """The maintainers' data folder next to the clone (``../shared``), or a skip that says why it is absent."""
    if not SHARED.is_dir():
        pytest.skip(
            f"needs {SHARED}, the maintainers' data folder (full MNIST, a CIFAR-10 subset, outputs of the original "
            "SpKeras); it is not part of the repository, so on a clone this skip is expected and nothing is wrong"
        )
    return SHARED


@pytest.fixture
def demo_sample():
    import spkeras

    return spkeras.demo.load_sample()
