"""A cheaper per-test Keras reset for test modules that build only tiny models.

``tests/conftest.py`` resets Keras with ``clear_session()``, whose ``gc.collect()`` costs 0.2–0.5 s per call
once TensorFlow is loaded, twice per test. A module that imports this fixture overrides that reset with one
that still clears Keras's global state (layer-name counters, the graph) and fixes the seeds, but leaves garbage
collection to Python::

    from tests.keras_session import _clean_keras_session  # noqa: F401
"""

import keras
import pytest


@pytest.fixture(autouse=True)
def _clean_keras_session():
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)
    yield
