"""Op-level timing for benchmarks/simulation_speed.py --profile: the executed kernels' time per op type from a
TensorFlow profiler trace, and the op types' roles (categories); not a script."""

from __future__ import annotations

import collections
import pathlib
import re
import tempfile

#: Op types by role. Synaptic: the layers' own work; neuron: charge / fire / reset / emit; counting: spike counts
#: and the readout; layout: copies and layout changes that compute nothing.
CATEGORIES = {
    "synaptic": {
        "Conv2D",
        "_MklConv2D",
        "_MklNativeConv2D",
        "_FusedConv2D",
        "_MklFusedConv2D",
        "_MklNativeFusedConv2D",
        "MatMul",
        "_MklMatMul",
        "_FusedMatMul",
        "_MklFusedMatMul",
        "_MklNativeFusedMatMul",
        "BiasAdd",
        "AvgPool",
        "_MklAvgPool",
        "_MklNativeAvgPool",
        "MaxPool",
        "_MklMaxPool",
        "_MklNativeMaxPool",
        "Mean",
        "Relu",
        "_MklRelu",
    },
    "neuron": {
        "AddV2",
        "Add",
        "_MklAdd",
        "_MklAddV2",
        "Sub",
        "Mul",
        "_MklMul",
        "GreaterEqual",
        "Greater",
        "Cast",
        "Select",
        "SelectV2",
        "RealDiv",
        "Maximum",
        "Minimum",
        "ZerosLike",
        "Fill",
    },
    "counting/readout": {"Sum", "Abs", "Cumsum", "ArgMax", "Equal", "NotEqual", "Count", "AddN", "Prod"},
    "layout": {
        "Reshape",
        "_MklReshape",
        "Transpose",
        "_MklTranspose",
        "_MklToTf",
        "Identity",
        "Pack",
        "ConcatV2",
        "BroadcastTo",
        "StridedSlice",
        "Squeeze",
        "ExpandDims",
        "Shape",
        "TensorListStack",
        "TensorListSetItem",
        "TensorListFromTensor",
        "TensorListReserve",
        "Slice",
        "Tile",
    },
}
_CONTROL = {
    "While",
    "StatelessWhile",
    "StatefulPartitionedCall",
    "PartitionedCall",
    "If",
    "StatelessIf",
    "Enter",
    "Exit",
    "NextIteration",
    "Merge",
    "Switch",
    "LoopCond",
    "_Recv",
    "_Send",
    "_Arg",
    "_Retval",
    "NoOp",
    "Less",
    "Const",
}
_OP_EVENT = re.compile(r"^([^:]+):([A-Za-z_][A-Za-z0-9_]*)$")


def category(op_type):
    for category, types in CATEGORIES.items():
        if op_type in types:
            return category
    return "other"


def op_times(function):
    """Runs ``function`` once under the TensorFlow profiler; returns {op type: [seconds, kernels]} summed over the
    executed kernels (host CPU plane, all threads) and a few op names per type (numbered suffixes dropped)."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    logdir = tempfile.mkdtemp(prefix="spkeras_profile_")
    tf.profiler.experimental.start(logdir, options=tf.profiler.experimental.ProfilerOptions(host_tracer_level=2))
    try:
        function()
    finally:
        tf.profiler.experimental.stop()
    by_type, examples = collections.defaultdict(lambda: [0.0, 0]), collections.defaultdict(set)
    for path in pathlib.Path(logdir).rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            for line in plane.lines:
                for event in line.events:
                    match = _OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                    if not match or match.group(2) in _CONTROL:
                        continue
                    name, op_type = match.groups()
                    by_type[op_type][0] += event.duration_ps * 1e-12
                    by_type[op_type][1] += 1
                    examples[op_type].add(re.sub(r"_\d+$", "", name.split("/")[-1]))
    return dict(by_type), {key: sorted(value)[:6] for key, value in examples.items()}
