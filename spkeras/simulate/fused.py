"""The fused CPU kernel of the integrate-and-fire step, built on first use.

TensorFlow runs a neuron step as five elementwise ops (charge ``AddV2``; fire ``GreaterEqual`` and ``Cast``;
soft reset ``Mul`` and ``Sub``) plus a ``Sum`` for the spike count, each a separate pass over the feature map.
On CPU these memory-bound passes were 28–41 % of the simulation's kernel time (docs/benchmarks.md, "Simulation
at the dense limit"). ``kernels/integrate_and_fire.cc`` does the whole step in one pass, with the same float
operations, so potentials, outputs and spike trains are bit-identical; the spike count is summed exactly in
integers (TensorFlow's float sum of the spikes is exact too below 2**24 spikes per layer and step).

The kernel is a TensorFlow custom op (the public custom-op API: ``tf.sysconfig`` compile and link flags,
``tf.load_op_library``). On first use on Linux with a C++ compiler (``$CXX``, ``c++`` or ``g++``) it is compiled
for this CPU (about 15 s) into the cache directory (``$SPKERAS_CACHE_DIR``, default
``~/.cache/spkeras``), keyed by the source, TensorFlow's version and flags and the CPU's features, and reused
afterwards. Without a compiler, on other systems, with a GPU or TPU visible, under XLA (``jit_compile=True``),
or with ``SPKERAS_FUSED_KERNEL=0`` the simulator uses TensorFlow's ops: same results, slower on CPU.
:func:`status` says which path is taken and why.

It replaces only the stock step of :class:`~spkeras.layers.IntegrateAndFire` (soft or hard reset, unit or
threshold-valued spikes, one threshold per layer or per channel, float32); subclasses that override a phase
(signed, augmented, QCFS neurons) keep their own step.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import threading

import tensorflow as tf

from spkeras.layers.neurons import IntegrateAndFire

logger = logging.getLogger(__name__)

SOURCE = pathlib.Path(__file__).with_name("kernels") / "integrate_and_fire.cc"
#: Set to ``0`` (or ``off``, ``false``, ``no``) to always use TensorFlow's ops.
SWITCH_VARIABLE = "SPKERAS_FUSED_KERNEL"
#: Where compiled kernels are kept (default ``~/.cache/spkeras``, or ``$XDG_CACHE_HOME/spkeras``).
CACHE_VARIABLE = "SPKERAS_CACHE_DIR"
COMPILE_TIMEOUT_S = 600

_LOCK = threading.Lock()
_LOADED: dict = {}  # "library" (the loaded op module or None) and "reason" (why not), once per process
_PHASES = ("step", "charge", "fire", "reset_potential", "emit")


def cache_directory() -> pathlib.Path:
    """Where compiled kernels are kept: ``$SPKERAS_CACHE_DIR``, else ``$XDG_CACHE_HOME/spkeras`` or
    ``~/.cache/spkeras``.

    Examples:
        >>> cache_directory() == pathlib.Path(os.environ[CACHE_VARIABLE]) if CACHE_VARIABLE in os.environ else True
        True
    """
    if os.environ.get(CACHE_VARIABLE):
        return pathlib.Path(os.environ[CACHE_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "spkeras"


def switched_off() -> bool:
    """Whether ``SPKERAS_FUSED_KERNEL`` turns the fused kernel off.

    Examples:
        >>> os.environ.get(SWITCH_VARIABLE, "") in ("0", "off", "false", "no") or not switched_off()
        True
    """
    return os.environ.get(SWITCH_VARIABLE, "").strip().lower() in ("0", "off", "false", "no")


def compiler() -> str | None:
    """The C++ compiler used to build the kernel (``$CXX``, else ``c++`` or ``g++`` on the path), or None."""
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


def _cpu_features() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            return next((line for line in cpuinfo if line.startswith(("flags", "Features"))), platform.processor())
    except OSError:
        return platform.processor()


def _command(compiler_path: str, output: pathlib.Path) -> list[str]:
    machine_flags = ["-march=native"] if platform.machine() in ("x86_64", "AMD64") else []
    return [
        compiler_path,
        "-O3",
        *machine_flags,
        "-ffp-contract=off",  # no fused multiply-adds: the same roundings as TensorFlow's separate ops
        "-shared",
        "-fPIC",
        "-w",
        str(SOURCE),
        "-o",
        str(output),
        *tf.sysconfig.get_compile_flags(),
        *tf.sysconfig.get_link_flags(),
    ]


def build(compiler_path: str | None = None) -> pathlib.Path:
    """Compiles the kernel into the cache directory unless a build for this source, TensorFlow and CPU is there.

    The library is written under a temporary name and renamed when complete, so a crash or a concurrent build
    never leaves a half-written file under the final name.

    Args:
        compiler_path: The C++ compiler; by default :func:`compiler`.

    Returns:
        The path of the compiled library.

    Raises:
        RuntimeError: When there is no compiler or the build fails (with the compiler's message).

    Examples:
        >>> path = build() if compiler() and sys.platform.startswith("linux") else None
        >>> path is None or path.suffix == ".so"
        True
    """
    compiler_path = compiler_path or compiler()
    if compiler_path is None:
        raise RuntimeError("no C++ compiler found (set $CXX, or install g++)")
    key = hashlib.sha256()
    for part in (
        SOURCE.read_bytes(),
        tf.__version__,
        " ".join(_command(compiler_path, pathlib.Path("-"))),
        _cpu_features(),
    ):
        key.update(part if isinstance(part, bytes) else part.encode())
    directory = cache_directory()
    target = directory / f"integrate_and_fire_{key.hexdigest()[:16]}.so"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".building-", suffix=".so", dir=directory)
    os.close(handle)
    temporary = pathlib.Path(temporary)
    logger.info("Compiling the fused integrate-and-fire kernel into %s (once per machine).", target)
    try:
        completed = subprocess.run(
            _command(compiler_path, temporary), capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S
        )
        if completed.returncode != 0:
            raise RuntimeError(f"compiling {SOURCE.name} failed: {completed.stderr.strip()[-2000:]}")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _unavailable_reason(jit_compile: bool) -> str | None:
    if switched_off():
        return f"turned off by {SWITCH_VARIABLE}={os.environ[SWITCH_VARIABLE]}"
    if jit_compile:
        return "jit_compile=True (XLA compiles TensorFlow's ops, not custom ones)"
    if not sys.platform.startswith("linux"):
        return f"the fused kernel is built on Linux only (this is {sys.platform})"
    accelerators = tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
    if accelerators:
        return f"an accelerator is visible ({accelerators[0].name}); the fused kernel is for CPUs"
    return None


def load(jit_compile: bool = False):
    """The loaded kernel module, or None (TensorFlow's ops are used; :func:`status` says why).

    Built and loaded once per process; later calls return the same module.

    Examples:
        >>> library = load()
        >>> library is None or hasattr(library, "spkeras_integrate_and_fire_step")
        True
    """
    reason = _unavailable_reason(jit_compile)
    if reason is not None:
        return None
    with _LOCK:
        if "library" not in _LOADED:
            try:
                _LOADED["library"], _LOADED["reason"] = tf.load_op_library(str(build())), None
            except (RuntimeError, OSError, subprocess.SubprocessError, tf.errors.OpError) as error:
                _LOADED["library"], _LOADED["reason"] = None, str(error)
                logger.info("Using TensorFlow's ops for the neuron step (same results, slower on CPU): %s", error)
        return _LOADED["library"]


def status(jit_compile: bool = False) -> str:
    """Which neuron-step path a simulation takes here, and why.

    Examples:
        >>> status().startswith(("fused kernel", "TensorFlow ops"))
        True
    """
    reason = _unavailable_reason(jit_compile)
    if reason is None and load(jit_compile) is None:
        reason = _LOADED.get("reason")
    return "fused kernel" if reason is None else f"TensorFlow ops: {reason}"


def supports(layer) -> bool:
    """Whether the fused kernel computes ``layer.step`` exactly: the stock :class:`IntegrateAndFire` phases
    (no subclass overrides them), float32, one threshold per layer or per channel.

    Examples:
        >>> from spkeras.layers import IntegrateAndFire
        >>> supports(IntegrateAndFire(threshold=1.0))
        True
    """
    if not isinstance(layer, IntegrateAndFire) or layer.compute_dtype != "float32":
        return False
    return all(getattr(type(layer), name) is getattr(IntegrateAndFire, name) for name in _PHASES)


def fused_step(library, layer):
    """``step(current, state) -> (output, new_state, count)`` of ``layer`` through the fused kernel.

    Args:
        library: The module returned by :func:`load`.
        layer: A layer for which :func:`supports` is true (built).
    """

    def step(current, state):
        (potential,) = state
        new_potential, output, count = library.spkeras_integrate_and_fire_step(
            potential,
            current,
            layer.threshold,
            soft_reset=layer.reset == "soft",
            emit_threshold=layer.spike_value == "threshold",
        )
        return output, (new_potential,), count

    return step
