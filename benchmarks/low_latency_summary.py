"""Summaries of benchmarks/low_latency.py's results: the best cell at a T, the targets, never worse than no
calibration, accuracy at equal spike budget; not a script."""

from __future__ import annotations

#: (T, maximum loss in percentage points) per network.
TARGETS = {"resnet": ((32, 1.0), (16, 3.0)), "vgg": ((8, 1.0), (16, 0.3)), "mnist": ((4, 0.2),)}


def best_at(entry: dict, timesteps: int):
    """(method, mode, accuracy) of the best SNN at ``timesteps``, or None if nothing ran there."""
    best = None
    for method, modes in entry["results"].items():
        for mode, per_t in modes.items():
            value = per_t.get(str(timesteps))
            if value is not None and (best is None or value["accuracy"] > best[2]):
                best = (method, mode, value["accuracy"])
    return best


def targets(name: str, entry: dict) -> list[dict]:
    rows = []
    for timesteps, limit in TARGETS[name]:
        best = best_at(entry, timesteps)
        if best is None:
            rows.append({"timesteps": timesteps, "max_loss_pp": limit, "met": None})
            continue
        loss = 100 * (entry["ann_accuracy"] - best[2])
        rows.append(
            {
                "timesteps": timesteps,
                "max_loss_pp": limit,
                "method": best[0],
                "mode": best[1],
                "snn_accuracy": best[2],
                "loss_pp": loss,
                "met": bool(loss <= limit + 1e-9),
            }
        )
    return rows


def never_worse(report: dict) -> dict:
    """Per method and mode: the smallest (mode − none) accuracy difference over every network and T that ran."""
    summary = {}
    for name, entry in report["models"].items():
        for method, modes in entry["results"].items():
            baseline = modes.get("none", {})
            for mode, per_t in modes.items():
                if mode == "none":
                    continue
                for t, value in per_t.items():
                    if t not in baseline:
                        continue
                    difference = 100 * (value["accuracy"] - baseline[t]["accuracy"])
                    item = summary.setdefault(method, {}).setdefault(
                        mode, {"worst_pp": None, "worst_at": None, "compared": 0, "models": []}
                    )
                    item["compared"] += 1
                    if name not in item["models"]:
                        item["models"].append(name)
                    if item["worst_pp"] is None or difference < item["worst_pp"]:
                        item["worst_pp"], item["worst_at"] = difference, f"{name} T={t}"
    for modes in summary.values():
        for item in modes.values():
            item["never_worse"] = item["worst_pp"] is not None and item["worst_pp"] >= 0.0
    return summary


def equal_budget(entry: dict, method: str) -> dict:
    """Accuracy at equal spike budget: per mode, the best accuracy of any of its cells (any T it was calibrated
    and simulated for) that spends at most the spikes per image of the uncalibrated network at each T.

    Returns ``{"budgets": {T: spikes of "none"}, "modes": {mode: {T: (accuracy, T used, spikes) or None}}}``;
    no interpolation between cells, so every number is a measured operating point.
    """
    modes = entry["results"].get(method, {})
    baseline = modes.get("none", {})
    budgets = {int(t): value["spikes_per_image"] for t, value in baseline.items()}
    table = {}
    for mode, per_t in modes.items():
        row = {}
        for t, budget in sorted(budgets.items()):
            within = [(v["accuracy"], int(s), v["spikes_per_image"]) for s, v in per_t.items()]
            within = [cell for cell in within if cell[2] <= budget * (1 + 1e-9)]
            row[t] = max(within) if within else None
        table[mode] = row
    return {"budgets": budgets, "modes": table}
