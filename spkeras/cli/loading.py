"""Models for the command line: loaded through ``spkeras.load_model``, files that store code refused first."""

from __future__ import annotations

from spkeras.cli.stored import code_layers
from spkeras.cli.support import check_model_file
from spkeras.errors import UsageError
from spkeras.io import read_model_config


def load(path, argument: str, unsafe: bool = False):
    """Loads a model through spkeras.load_model, with the command line's wording of the messages.

    A file that stores Python code (a ``Lambda`` layer) is refused before Keras reads it, unless ``unsafe``
    (``--unsafe``: ``safe_mode=False``, for files the user trusts).

    Examples:
        >>> import spkeras
        >>> load(spkeras.demo.DEMO_MODEL_PATH, "MODEL").name
        'demo_mnist_cnn'
    """
    from spkeras.io import load_model

    if not unsafe:
        check_model_file(path, argument)
        code = code_layers(read_model_config(path))
        if code:
            names = ", ".join(f"'{name}'" for name, _ in code)
            raise UsageError(
                f"{argument} has a Lambda layer ({names}): Python code stored in the file, which would run on "
                "loading, so it is not loaded (safe mode). If you trust the file, add --unsafe; a Lambda layer "
                f"cannot be converted, 'spkeras info' lists the layers that can. Received: {argument}='{path}'."
            )
    return load_model(path, safe_mode=not unsafe, argument=argument, command_line=True)


def is_spiking(model) -> bool:
    """Whether ``model`` is a converted spiking model (it has spiking neuron layers).

    Examples:
        >>> import spkeras
        >>> is_spiking(spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH))
        False
    """
    from spkeras.layers import IntegrateAndFire

    return any(isinstance(layer, IntegrateAndFire) for layer in model.layers)


def default_method(model) -> str:
    """The method ``spkeras.convert`` picks for ``model`` when none is given.

    Examples:
        >>> import spkeras
        >>> default_method(spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH))
        'ecc'
    """
    from spkeras.conversion.pipeline import default_method as library_default

    return library_default(model)


def has_qcfs(model) -> bool:
    """Whether ``model`` was prepared for QCFS conversion (``spkeras finetune``): it has QCFS activations.

    Examples:
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> has_qcfs(cnn), has_qcfs(spkeras.prepare_for_conversion(cnn, levels=4))
        (False, True)
    """
    return default_method(model) == "qcfs"
