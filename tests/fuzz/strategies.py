"""Hypothesis strategies drawing fuzz cases as plain JSON-able dicts (replayable from a report)."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz import mutations

MODELS = ("demo", "dense", "conv_bn", "residual", "maxpool_seq", "conv1d")
TARGETS = ("load_h5", "load_keras", "convert", "evaluate", "cli")

fraction = st.floats(0.0, 0.999, allow_nan=False)
layer_index = st.integers(0, 12)


def _d(**fields):
    return st.fixed_dictionaries(
        {k: (v if isinstance(v, st.SearchStrategy) else st.just(v)) for k, v in fields.items()}
    )


def _maybe(values, default_weight=4):
    """A kwarg value: absent (``"<default>"``, ``default_weight`` times as likely as all others together) or one of
    ``values``."""
    return st.sampled_from(["<default>"] * (default_weight * len(values)) + list(values))


def _mostly(common, rare, weight=3):
    """``common`` ``weight`` times as likely as all of ``rare`` together."""
    return st.sampled_from([common] * (weight * len(rare)) + list(rare))


byte_op = st.one_of(
    _d(
        op="flip",
        positions=st.lists(fraction, min_size=1, max_size=8),
        bits=st.lists(st.integers(0, 7), min_size=8, max_size=8),
    ),
    _d(op="truncate", at=fraction),
    _d(op="splice", source=fraction, target=fraction, length=st.integers(1, 4096)),
    _d(op="insert", at=fraction, seed=st.integers(0, 2**16), length=st.integers(1, 512)),
    _d(op="zero", at=fraction, length=st.integers(1, 4096)),
    _d(op="duplicate", at=fraction, length=st.integers(1, 2048)),
)

json_value = st.one_of(
    st.sampled_from(mutations.INTERESTING),
    st.integers(-(2**40), 2**40),
    st.text(max_size=8),
    st.lists(st.one_of(st.none(), st.integers(-3, 40)), max_size=5),
)
conv_pairs = [(key, value) for key, values in mutations.CONV_VALUES.items() for value in values]
INBOUND = [
    [],
    None,
    "x",
    [[["ghost", 0, 0, {}]]],
    [{"args": [], "kwargs": {}}],
    [
        {
            "args": [
                {
                    "class_name": "__keras_tensor__",
                    "config": {"shape": [None, 3], "dtype": "float32", "keras_history": ["ghost", 0, 0]},
                }
            ],
            "kwargs": {},
        }
    ],
]
config_op = st.one_of(
    _d(
        op="config",
        action="class",
        layer=layer_index,
        value=st.sampled_from(mutations.CLASS_NAMES),
        drop_module=st.booleans(),
    ),
    _d(op="config", action="size", layer=layer_index, value=st.sampled_from(mutations.SIZES)),
    _d(op="config", action="activation", layer=layer_index, value=st.sampled_from(mutations.ACTIVATIONS)),
    _d(op="config", action="dtype", layer=layer_index, value=st.sampled_from(mutations.DTYPES)),
    _d(op="config", action="shape", value=st.sampled_from(mutations.SHAPES)),
    st.builds(
        lambda layer, pair: {"op": "config", "action": "conv", "layer": layer, "key": pair[0], "value": pair[1]},
        layer_index,
        st.sampled_from(conv_pairs),
    ),
    _d(op="config", action="replace", index=st.integers(0, 400), value=json_value),
    _d(op="config", action="delete", index=st.integers(0, 400)),
    _d(op="config", action=st.sampled_from(["duplicate_layer", "remove_layer"]), layer=layer_index),
    _d(
        op="config",
        action="rename",
        layer=layer_index,
        value=st.sampled_from(["", "a/b", "x" * 200, "conv", "dense", None, 5]),
    ),
    _d(op="config", action="inbound", layer=layer_index, value=st.sampled_from(INBOUND)),
    _d(op="config", action="top_class", value=st.sampled_from(mutations.CLASS_NAMES)),
    _d(op="config", action="invalid_json", at=fraction, tail=st.sampled_from(["", "}", "]]", "garbage", "\x00"])),
)
ATTR_VALUES = [
    "<delete>",
    "<bytes>",
    "<array>",
    "",
    "not json",
    "2.0.0",
    "theano",
    "{}",
    "[]",
    "null",
    {"class_name": "Sequential", "config": {"layers": []}},
    {"class_name": "Sequential", "config": {}},
    {"class_name": "Functional", "config": {"layers": [], "input_layers": [], "output_layers": []}},
    7,
]
attr_op = _d(
    op="attr",
    name=st.sampled_from(["model_config", "keras_version", "backend", "training_config"]),
    value=st.sampled_from(ATTR_VALUES),
    seed=st.integers(0, 100),
)
group_attr_op = _d(
    op="group_attr",
    name=st.sampled_from(["layer_names", "weight_names"]),
    index=st.integers(0, 20),
    value=st.sampled_from(["<delete>", "<shuffle>", "<extra>"]),
)
DATASET_ACTIONS = [
    "delete",
    "nan",
    "inf",
    "huge_values",
    "negative_variance",
    "zeros",
    "shape",
    "transpose",
    "scalar",
    "empty",
    "dtype_int",
    "dtype_float16",
    "dtype_str",
    "dtype_bool",
    "huge_declared",
    "large_declared",
    "group",
]
dataset_op = _d(op="dataset", index=st.integers(0, 40), action=st.sampled_from(DATASET_ACTIONS))

h5_op = st.one_of(byte_op, config_op, config_op, attr_op, group_attr_op, dataset_op, dataset_op)
entry_op = _d(
    op="entry",
    entry=st.sampled_from(["config.json", "metadata.json", "model.weights.h5", *mutations.EXTRA_ENTRIES]),
    action=st.sampled_from(["delete", "garbage", "empty", "add", "truncate"]),
    seed=st.integers(0, 100),
    at=fraction,
)
keras_op = st.one_of(
    byte_op,
    config_op,
    config_op,
    config_op,
    entry_op,
    _d(op="weights_bytes", inner=byte_op),
    dataset_op,
    dataset_op,
    group_attr_op,
)

h5_case = _d(
    target="load_h5", base=st.sampled_from(MODELS), ops=st.lists(h5_op, min_size=1, max_size=3), convert=st.booleans()
)
keras_case = _d(
    target="load_keras",
    base=st.sampled_from(MODELS),
    ops=st.lists(keras_op, min_size=1, max_size=3),
    convert=st.booleans(),
)

# Arrays: mostly well-formed containers with one thing wrong (or nothing), so deeper code is reached.
array_spec = _d(
    container=_mostly("ndarray", ["list", "tuple", "none", "string", "scalar", "dict", "ragged"], 5),
    dtype=_mostly("float32", ["float64", "float16", "int32", "uint8", "bool", "complex64", "object", "str"]),
    shape_mode=_mostly(
        "ok", ["no_channel", "extra_axis", "wrong_dim", "rank0", "rank1", "transposed", "random", "empty"]
    ),
    n=st.integers(1, 6),
    fill=_mostly(
        "uniform", ["zeros", "constant", "negative", "huge", "tiny", "nan_some", "inf_some", "nan_all", "uint8"], 2
    ),
    seed=st.integers(0, 1000),
    random_shape=st.lists(st.integers(0, 6), max_size=5),
    delta=st.integers(-2, 3).filter(bool),
)
label_spec = _d(
    kind=st.sampled_from(
        ["int"] * 4
        + ["onehot"] * 2
        + [
            "int32_col",
            "onehot_int",
            "float_int",
            "float_frac",
            "soft",
            "multi_hot",
            "negative",
            "out_of_range",
            "nan",
            "3d",
            "string",
            "object",
            "list",
            "bool",
            "huge_int",
            "wrong_columns",
            "scalar",
            "none",
        ]
    ),
    n_delta=st.sampled_from([0] * 6 + [-1, 1, 5]),
    seed=st.integers(0, 1000),
)


convert_kwargs = _d(
    method=_maybe(
        ["ecc", "robust", "max", "channelwise", "opi", "termapping", "augmapping", "qcfs", "bogus", 3, None], 3
    ),
    timesteps=_maybe([1, 2, 8, 0, -1, 2.5, "8", True, None, 16]),
    batch_size=_maybe([1, 3, 0, -1, 1.5, None, "4"]),
    max_pooling=_maybe(["average", "error", "bogus", None]),
    calibrate=_maybe(
        [None, "light", "advanced", "threshold", "bias", "potential", "per_step", "bogus", ["threshold", "bias"], 5], 2
    ),
    reset=_maybe([None, "soft", "hard", "bogus", 1]),
    v_init=_maybe([None, 0, 0.5, 0.999, 1, -0.1, float("nan"), "x"]),
    spike_value=_maybe([None, "unit", "threshold", "bogus"]),
    options=st.sampled_from(
        [{}] * 6
        + [
            {"percentile": 99.9},
            {"percentile": 0},
            {"percentile": 101},
            {"percentile": "x"},
            {"amp_factor": -1},
            {"amp_factor": float("inf")},
            {"signed_bit": 4},
            {"signed_bit": -1},
            {"signed_bit": 1.5},
            {"bogus_option": 1},
        ]
    ),
)
evaluate_kwargs = _d(
    timesteps=_maybe([1, 2, 5, 8, 0, -3, 1.5, None, "4", True]),
    batch_size=_maybe([1, 2, 0, -1, None, 2.0]),
    encoding=_maybe(["analog", "poisson", "count", "bogus", None]),
    chunk_size=_maybe([None, 1, 2, 3, 0, -1, 1.5]),
    seed=_maybe([0, 1, -1, 2**63, "s", None]),
    jit_compile=_maybe([False, "yes"], 6),
)
convert_case = _d(
    target="convert",
    base=st.sampled_from(MODELS),
    source=st.sampled_from(["model", "model", "h5", "keras"]),
    x=array_spec,
    kwargs=convert_kwargs,
)
evaluate_case = _d(
    target="evaluate",
    base=st.sampled_from(MODELS),
    source=st.sampled_from(["memory", "file"]),
    x=array_spec,
    y=label_spec,
    kwargs=evaluate_kwargs,
)

model_argument = _d(
    kind=st.sampled_from(
        ["corpus"] * 3 + ["mutated"] * 4 + ["snn", "missing", "folder", "npz", "wrong_ext", "empty_file"]
    ),
    base=st.sampled_from(MODELS),
    suffix=st.sampled_from([".h5", ".keras"]),
    ops=st.lists(st.one_of(byte_op, config_op, dataset_op), min_size=1, max_size=2),
)
npz_argument = _d(
    kind=st.sampled_from(["corpus"] * 3 + ["arrays"] * 4 + ["missing", "not_npz", "garbage", "empty_npz", "pickled"]),
    x_key=st.sampled_from(["x"] * 3 + ["x_test", "x_calibration", "x_train", "images"]),
    y_key=st.sampled_from(["<matching>"] * 4 + ["y", "labels", "<none>"]),
    x=array_spec.filter(lambda spec: spec["container"] == "ndarray"),
    y=label_spec.filter(lambda spec: spec["kind"] not in ("none", "scalar", "list")),
)
output_argument = st.sampled_from(["ok"] * 5 + ["missing_folder", "wrong_ext", "folder", "readonly_folder", "absent"])
cli_case = _d(
    target="cli",
    command=st.sampled_from(["info", "convert", "convert", "evaluate", "evaluate"]),
    model=model_argument,
    data=npz_argument,
    output=output_argument,
    json=output_argument,
    plot=st.sampled_from(["absent"] * 3 + ["ok", "pdf", "wrong_ext", "missing_folder"]),
    ann=st.sampled_from(["absent"] * 2 + ["corpus", "snn", "missing", "mutated"]),
    timesteps=st.sampled_from([2, 4, 1, 0, -1, 3]),
    batch_size=st.sampled_from(["absent"] * 3 + [1, 0, 7]),
    limit=st.sampled_from(["absent"] * 3 + [1, 0, 3, 10**9]),
    method=st.sampled_from(["ecc"] * 3 + ["robust", "max", "channelwise", "opi", "bogus", "qcfs"]),
    calibrate=st.sampled_from(["none"] * 4 + ["light", "bogus", "threshold"]),
    encoding=st.sampled_from(["analog", "poisson", "count"]),
    options=st.sampled_from(
        [[]] * 5 + [["percentile=99"], ["amp_factor=-3"], ["bogus=1"], ["=3"], ["percentile"], ["v_init=[1]"]]
    ),
    max_pooling=st.sampled_from(["average", "error"]),
    quiet=st.booleans(),
)

CASES = {
    "load_h5": h5_case,
    "load_keras": keras_case,
    "convert": convert_case,
    "evaluate": evaluate_case,
    "cli": cli_case,
}


def draw_cases(target: str, count: int, seed: int) -> list[dict]:
    """``count`` cases for ``target``, drawn by Hypothesis from ``seed`` (same seed, same cases)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    drawn: list[dict] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(CASES[target])
    def collect(case):
        drawn.append(case)

    collect()
    return drawn[:count]
