"""Converting, calibrating and simulating emit no DeprecationWarning, not even from inside Keras (issue 28 item 12:
NumPy 2 warned that a Keras variable's ``__array__`` takes no ``copy`` keyword on every convert call). The
suite's filters ignore DeprecationWarnings raised from keras.*, so this test turns them into errors itself."""

import warnings

import spkeras


def test_convert_calibrate_and_evaluate_emit_no_deprecation_warning():
    sample = spkeras.demo.load_sample()
    x, y = sample["x_calibration"][:60], sample["y_test"][:20]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, x, timesteps=4, calibrate="advanced")
        result = spkeras.evaluate(snn, sample["x_test"][:20], y, timesteps=4)
        spkeras.metrics.summarize(snn, result)
        prepared = spkeras.prepare_for_conversion(spkeras.demo.DEMO_MODEL_PATH, levels=4)
        spkeras.convert(prepared, None, timesteps=4)
