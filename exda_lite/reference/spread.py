"""Where gst_mechanism's seed-to-seed spread comes from: a fit problem or a train/test gap? (README *GST mechanism*)

In ``gst_mechanism`` the arms with a global path ended 1.5-2.5 dB lower in some seeds (0 and 6) than in the others,
which made the primary comparison's interval ±0.81 dB wide. The README's first guess was unstable training at this
learning rate (a fix: a lower rate or gradient clipping). This probe tests that guess against another: the bad
seeds fit the *training* composites as well as the good ones but transfer worse to the test photos.

    python -m exda_lite.reference convergence --gap-probe    # ~8 runs, ~25 CPU-minutes; writes gap_probe.json

It retrains committed runs (same seed, same batches) and scores the EMA weights at the end on the test set and on
the first ``TRAIN_SUBSET`` training composites, and retrains the bad seeds' ``gst_rms`` at half the learning rate.
It changes no rule and no verdict of ``gst_mechanism``; it is exploratory and says so wherever it is reported.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

GAP_PROBE = {"experiment": "gst_mechanism", "arms": ("mdta", "gst_rms"), "seeds": (0, 6, 1), "bad_seeds": (0, 6),
             "half_lr_arm": "gst_rms", "train_subset": 512}
"""Fixed and committed before the probe ran (2026-12-07). Seeds 0 and 6 are the bad ones (gst_rms 31.32 / 31.45 dB
against 33.18-34.39 in the other seeds), seed 1 a good one. One ad-hoc run (gst_rms, seed 0, at 2e-3 and 1e-3)
was looked at before this was written: its training-subset fit was close to mdta's and halving the rate did not
help, so seed 0 cannot test the hypotheses below; seed 6 can.

Predictions. *Train/test gap*: in each bad seed gst_rms's PSNR on the training subset is within 0.5 dB of the same
seed's mdta while its test PSNR is >= 1 dB below it; in seed 1 both differences are under 0.5 dB. It is refuted if
in seed 6 gst_rms's training-subset PSNR is >= 1 dB below mdta's (the model fits the training data worse too: a fit
problem). *Too high a learning rate*: halving it raises gst_rms's test PSNR by >= 0.5 dB in both bad seeds; refuted
if it does not in seed 6."""


def retrain(experiment, task: dict, arm: str, seed: int, lr_scale: float = 1.0, device: str = "cpu") -> dict:
    """Retrain one run (``lr_scale`` x the experiment's rate) and score its EMA weights on test and train subset."""
    from ..course.toy import evaluate_toy
    from .experiments import train_arm

    if lr_scale != 1.0:
        experiment = dataclasses.replace(experiment, settings={**experiment.settings,
                                                               "lr": experiment.settings["lr"] * lr_scale})
    model = experiment.make_model(arm, seed, experiment.settings)
    history = train_arm(experiment, task, arm, seed, device, None, model=model)
    n = GAP_PROBE["train_subset"]
    train = evaluate_toy(model, task["train_degraded"][:n], task["train_clean"][:n])
    return {"arm": arm, "seed": seed, "lr": experiment.settings["lr"], "test_psnr": history[-1]["test_psnr"],
            "train_subset_psnr": train["psnr"], "curve": history}


def verdicts(rows: list[dict]) -> dict:
    """Apply :data:`GAP_PROBE`'s predictions to the retrained runs (keyed as ``retrain`` returns them)."""
    def get(arm, seed, half=False):
        return next(r for r in rows if r["arm"] == arm and r["seed"] == seed and (r["lr_scale"] == 0.5) == half)

    diff = {s: {k: get("mdta", s)[k] - get("gst_rms", s)[k] for k in ("test_psnr", "train_subset_psnr")}
            for s in GAP_PROBE["seeds"]}
    gain = {s: get("gst_rms", s, True)["test_psnr"] - get("gst_rms", s)["test_psnr"] for s in GAP_PROBE["bad_seeds"]}
    gap = all(diff[s]["train_subset_psnr"] < 0.5 and diff[s]["test_psnr"] >= 1 for s in GAP_PROBE["bad_seeds"])
    return {"mdta_minus_gst_rms": {str(s): d for s, d in diff.items()},
            "half_lr_gain": {str(s): g for s, g in gain.items()},
            "train_test_gap": ("supported" if gap else "refuted" if diff[6]["train_subset_psnr"] >= 1
                               else "neither supported nor refuted"),
            "too_high_lr": "supported" if all(g >= 0.5 for g in gain.values()) else
                           "refuted" if gain[6] < 0.5 else "neither supported nor refuted"}


def gap_probe(folder: Path, device: str = "cpu") -> dict:
    """Run :data:`GAP_PROBE` and write ``<folder>/gap_probe.json`` (the committed finals beside the retrained)."""
    from .. import files
    from .experiments import EXPERIMENTS

    experiment = EXPERIMENTS[GAP_PROBE["experiment"]]
    task = experiment.make_task(experiment.settings)
    plan = [(arm, seed, 1.0) for seed in GAP_PROBE["seeds"] for arm in GAP_PROBE["arms"]]
    plan += [(GAP_PROBE["half_lr_arm"], seed, 0.5) for seed in GAP_PROBE["bad_seeds"]]
    rows = []
    for arm, seed, scale in plan:
        row = {**retrain(experiment, task, arm, seed, scale, device), "lr_scale": scale}
        committed = Path(folder) / "runs" / experiment.name / f"{arm}-seed{seed}.json"
        row["committed_final"] = json.loads(committed.read_text())["final"] if scale == 1.0 else None
        rows.append(row)
        print(f"{arm} seed {seed} lr x{scale}: test {row['test_psnr']:.2f} dB, training subset "
              f"{row['train_subset_psnr']:.2f} dB", flush=True)
    result = {"probe": {k: list(v) if isinstance(v, tuple) else v for k, v in GAP_PROBE.items()},
              "settings": experiment.settings, "steps": experiment.steps, "runs": rows, **verdicts(rows)}
    files.write_json(Path(folder) / "gap_probe.json", result, indent=1)
    return result
