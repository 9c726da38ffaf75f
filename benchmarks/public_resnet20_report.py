"""The markdown report of benchmarks/public_resnet20.py (tables of its JSON, per-layer rate errors); not a script."""

from __future__ import annotations

import pathlib

from common import markdown_table

MARKER = "<!-- analysis: hand-written, kept by the script -->"


def write_markdown(report: dict, path: pathlib.Path) -> None:
    rows = [
        [
            r.get("method", "ecc"),
            r["calibrate"] or "none",
            "—" if r.get("percentile", 100.0) is None else f"{r.get('percentile', 100.0):g}",
            r["timesteps"],
            f"{100 * r['accuracy']:.1f}",
            f"{100 * (report['ann_accuracy'] - r['accuracy']):.1f}",
            f"{r['spikes_per_image']:.0f}",
            f"{r['conversion_s']:.1f}",
            f"{r['simulation_s']:.1f}",
        ]
        for r in report["runs"]
    ]
    text = [
        "# Public ResNet-20 (issue 30) — measured results",
        "",
        f"ANN: {100 * report['ann_accuracy']:.1f} % on the test images; method `ecc` (λ = max, or a percentile) "
        "unless the method column says otherwise.",
        "",
        markdown_table(
            [
                "method",
                "calibrate",
                "ecc λ percentile",
                "T",
                "SNN %",
                "loss pp",
                "spikes/image",
                "convert s",
                "simulate s",
            ],
            rows,
        ),
    ]
    for timesteps, entry in report.get("analysis", {}).items():
        text += ["", f"## Rate error per layer, {timesteps} (no calibration)", ""]
        text.append(
            markdown_table(
                [
                    "layer",
                    "mean act",
                    "rel. mean err",
                    "rel. per-image err",
                    "mean θ",
                    "ANN rate",
                    "SNN rate",
                    "clipped (ANN>θ)",
                ],
                [
                    [
                        r["layer"],
                        f"{r['mean_activation']:.3f}",
                        f"{r['relative_mean_error']:.3f}",
                        f"{r['relative_per_image_error']:.3f}",
                        f"{r['mean_theta']:.3f}",
                        f"{r['mean_ann_rate']:.3f}",
                        f"{r['mean_snn_rate']:.3f}",
                        f"{r['clipped_fraction_ann']:.4f}",
                    ]
                    for r in entry["layers"]
                ],
            )
        )
        text.append(f"\nPrediction agreement with the ANN: {entry['prediction_agreement_with_ann']:.3f}")
    # The hand-written analysis below the marker survives a re-run.
    kept = path.read_text().split(MARKER, 1)[1] if path.is_file() and MARKER in path.read_text() else "\n"
    path.write_text("\n".join(text) + "\n\n" + MARKER + kept)
