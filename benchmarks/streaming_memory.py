"""Peak memory of evaluating a large input that does not sit in memory: a memory-mapped ``.npy`` of N images.

Usage:
    python benchmarks/streaming_memory.py [--images 100000] [--timesteps 8] [--batch-size 500]

Writes N MNIST-sized test images (the bundled sample, repeated) to a temporary float32 ``.npy``, opens it with
``np.load(..., mmap_mode="r")`` and runs ``spkeras.evaluate`` on the bundled demo SNN. It reports the peak resident
memory (``ru_maxrss``) before and after the evaluation and the peak *anonymous* memory (``RssAnon``, sampled
every 20 ms), next to the size of the file. Pages of a memory-mapped file that have been read count in the
resident size but belong to the page cache (the kernel drops them under pressure), so the anonymous peak is the
figure that shows whether memory is bounded: it grows by far less than the file size for the mapped input.
Each measurement runs in a fresh process so earlier peaks do not hide later ones.
Results go to benchmarks/results/streaming_memory.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import RESULTS, machine, markdown_table, write_json  # noqa: E402

_CHILD = """
import json, resource, sys, threading, time
import numpy as np
import spkeras

def anonymous_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0

peak = {"anonymous": 0}
done = threading.Event()

def sample_memory():
    while not done.is_set():
        peak["anonymous"] = max(peak["anonymous"], anonymous_bytes())
        time.sleep(0.02)

path, mode = sys.argv[1], sys.argv[5]
images, timesteps, batch_size = (int(value) for value in sys.argv[2:5])
sample = spkeras.demo.load_sample()
snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:200])
labels = np.resize(sample["y_test"], images)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
anonymous_before = anonymous_bytes()
sampler = threading.Thread(target=sample_memory, daemon=True)
sampler.start()
x = np.load(path, mmap_mode="r") if mode == "mmap" else np.load(path)
started = time.perf_counter()
result = spkeras.evaluate(snn, x, labels, timesteps=timesteps, batch_size=batch_size)
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
done.set()
sampler.join()
print(json.dumps({"peak_before": before, "peak_after": after, "seconds": seconds,
                  "anonymous_before": anonymous_before, "anonymous_peak": peak["anonymous"],
                  "accuracy": result.accuracy_at(timesteps), "images": result.num_images}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--modes", nargs="+", default=["mmap", "in-memory"], choices=["mmap", "in-memory"])
    parser.add_argument("--output", default=str(RESULTS / "streaming_memory.json"))
    arguments = parser.parse_args(argv)

    import numpy as np

    import spkeras

    sample = spkeras.demo.load_sample()["x_test"].astype("float32")
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "images.npy"
        images = np.lib.format.open_memmap(
            path, mode="w+", dtype="float32", shape=(arguments.images,) + sample.shape[1:]
        )
        for start in range(0, arguments.images, len(sample)):
            part = sample[: arguments.images - start]
            images[start : start + len(part)] = part
        images.flush()
        del images
        size = path.stat().st_size
        for mode in arguments.modes:
            command = [sys.executable, "-c", _CHILD, str(path), str(arguments.images), str(arguments.timesteps)]
            completed = subprocess.run(
                [*command, str(arguments.batch_size), mode], capture_output=True, text=True, check=True
            )
            measured = json.loads(completed.stdout.strip().splitlines()[-1])
            results[mode] = measured
            growth = measured["peak_after"] - measured["peak_before"]
            rows.append(
                [
                    mode,
                    f"{size / 2**20:.0f}",
                    f"{measured['peak_before'] / 2**20:.0f}",
                    f"{measured['peak_after'] / 2**20:.0f}",
                    f"{growth / 2**20:.0f}",
                    f"{(measured['anonymous_peak'] - measured['anonymous_before']) / 2**20:.0f}",
                    f"{measured['seconds']:.0f}",
                ]
            )
    header = [
        "input",
        "file MiB",
        "peak RSS before MiB",
        "peak RSS after MiB",
        "RSS growth MiB",
        "anonymous growth MiB",
        "evaluate s",
    ]
    print(f"{arguments.images} images, T={arguments.timesteps}, batch {arguments.batch_size}")
    print(markdown_table(header, rows))
    report = {"images": arguments.images, "timesteps": arguments.timesteps, "batch_size": arguments.batch_size}
    report.update(file_bytes=size, results=results, machine=machine())
    write_json(report, pathlib.Path(arguments.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
