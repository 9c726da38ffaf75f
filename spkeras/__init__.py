"""spkeras: convert trained Keras CNNs into spiking neural networks and simulate them over time.

Examples:
    >>> import spkeras
    >>> sample = spkeras.demo.load_sample()
    >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    >>> snn = spkeras.convert(cnn, sample["x_calibration"], method="ecc", timesteps=64)
    >>> result = spkeras.evaluate(snn, sample["x_test"], sample["y_test"], timesteps=64)
"""

__version__ = "0.1.0"

from spkeras import demo, layers, methods  # noqa: E402
from spkeras.analytic import estimate_closed_form  # noqa: E402
from spkeras.convert import convert  # noqa: E402
from spkeras.io import load_model, save_model  # noqa: E402
from spkeras.simulate import SimulationResult, evaluate  # noqa: E402

__all__ = [
    "SimulationResult",
    "__version__",
    "convert",
    "demo",
    "estimate_closed_form",
    "evaluate",
    "layers",
    "load_model",
    "methods",
    "save_model",
]
