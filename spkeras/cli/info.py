"""The ``info`` command: a model's layers and whether each converts (and why not)."""

from __future__ import annotations

from spkeras.cli.constants import EXIT_OK, EXIT_REFUSED
from spkeras.cli.loading import load
from spkeras.cli.startup import start_tensorflow
from spkeras.cli.stored import code_layers, config_report
from spkeras.cli.support import check_model_file
from spkeras.io import read_model_config

UNCHECKED = "type converts (settings not checked: the model was not loaded; --unsafe loads it)"


def info(arguments) -> int:
    """``spkeras info``: lists MODEL's layers and whether each converts; exit status 1 if one does not.

    Examples:
        >>> import spkeras
        >>> from spkeras.cli.parser import build_parser
        >>> status = info(build_parser().parse_args(["info", str(spkeras.demo.DEMO_MODEL_PATH)]))
        ... # doctest: +ELLIPSIS
        model 'demo_mnist_cnn': input (28, 28, 1), 11 layers
        ...
        all layers convert
        >>> status
        0
    """
    check_model_file(arguments.model, "MODEL")
    start_tensorflow()
    from spkeras.conversion import layer_report

    config = read_model_config(arguments.model)
    if code_layers(config) and not arguments.unsafe:
        # Loading would run the code stored in the file: describe it from its config instead.
        report = config_report(config, arguments.max_pooling)
        name = config.get("config", {}).get("name", "?") if isinstance(config.get("config"), dict) else "?"
        print(f"model '{name}': {len(report)} layers, read from the file's config (it stores Python code)")
        unchecked = UNCHECKED
    else:
        model = load(arguments.model, "MODEL", arguments.unsafe)
        report = layer_report(model, max_pooling=arguments.max_pooling)
        print(f"model '{model.name}': input {tuple(model.inputs[0].shape[1:])}, {len(report)} layers")
        unchecked = "converts"
    width = max(len(name) for name, _, _ in report) if report else 10
    for name, kind, reason in report:
        status = unchecked if reason is None else f"REFUSED: {reason}"
        print(f"  {name:<{width}}  {kind:<24} {status}")
    refused = sum(reason is not None for _, _, reason in report)
    print("all layers convert" if not refused else f"{refused} layer(s) cannot be converted")
    return EXIT_OK if not refused else EXIT_REFUSED
