"""The trained demo model in the box: ``exda_nano`` trained on the offline demo set until it converges.

    python -m exda_lite.reference demo-weights [--max-steps 3000] [--threads 1]

Trains with ``exda_lite.training`` (resumable: ``resume="auto"`` in ``reference/.state/demo_nano``),
then copies the weights to ``exda_lite/weights/exda_nano_demo.safetensors`` (the model config is in
the safetensors metadata) and records sha256, size, command, commit and the held-out PSNR curve in
``exda_lite/weights/MANIFEST.json``. ``exda-lite restore`` uses these weights when ``--weights`` is
omitted, notebook 00 makes its first forward pass with them, notebook 05's explorers show their maps.
It is a demo model: trained on 10 photos with synthetic degradations, not on the benchmarks.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import files
from .provenance import git_commit, last_fifth_change
from ..weights import DEMO_WEIGHTS, MANIFEST, WEIGHTS_DIR, sha256


def demo_config(out_dir: Path, max_steps: int, device: str = "cpu"):
    from ..data.settings import DEMO
    from ..training.config import TrainConfig

    return TrainConfig(out_dir=str(out_dir), resume="auto", setting=DEMO.name, model="exda_nano", patch_size=64,
                       batch_size=8, samples_per_degradation=200, lr=1e-3, max_steps=max_steps, warmup_steps=100,
                       checkpoint_every=100, val_every=1, seed=0, device=device, progress=False, tensorboard=False,
                       channels_last=False)  # as the committed weights were trained (before the CPU default)


def converged(val_history: list[dict], tolerance_db: float = 0.05) -> dict:
    """Held-out PSNR moved by less than ``tolerance_db`` over the last 20 % of steps."""
    change = last_fifth_change(val_history, "val_psnr")
    return {"rule": f"held-out PSNR moved by less than {tolerance_db} dB over the last 20 % of steps",
            "change_db": float(change), "converged": bool(change < tolerance_db)}


def train_demo_weights(max_steps: int = 3000, device: str = "cpu", state_dir=None, install_only: bool = False) -> dict:
    """Train (or finish training) the demo model and install it with its manifest; return the manifest.

    ``install_only``: install the latest checkpoint of an unfinished run as it is (the manifest then
    records how far it got and that it did not finish).
    """
    import csv

    from ..training.loop import train

    state_dir = Path(state_dir or Path(__file__).resolve().parents[2] / "reference" / ".state" / "demo_nano")
    start = time.time()
    if install_only:
        with open(state_dir / "val_log.csv") as f:
            val_history = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        weights, steps, finished = state_dir / "model.safetensors", int(val_history[-1]["step"]), False
    else:
        result = train(demo_config(state_dir, max_steps, device))
        weights, steps, val_history, finished = result.weights, result.global_step, result.val_history, True
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    files.write_bytes(DEMO_WEIGHTS, Path(weights).read_bytes())
    manifest = {
        "file": DEMO_WEIGHTS.name, "sha256": sha256(DEMO_WEIGHTS), "bytes": DEMO_WEIGHTS.stat().st_size,
        "model": "exda_nano", "trained_on": "the offline demo set: 10 scikit-image photos, 5 synthetic degradations",
        "steps": steps, "planned_steps": max_steps, "finished": finished,
        "train_seconds_this_call": round(time.time() - start, 1),
        "command": f"python -m exda_lite.reference demo-weights --max-steps {max_steps}", "commit": git_commit(),
        "val_psnr": [{"step": int(r["step"]), "val_psnr": r["val_psnr"], "input": r["val_psnr_input"]}
                     for r in val_history],
        "convergence": converged(val_history),
    }
    files.write_json(MANIFEST, manifest, indent=1)
    return manifest
