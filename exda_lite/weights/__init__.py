"""Small trained weights shipped with the package (the only weights in the repository).

* ``exda_nano_demo.safetensors``: ``exda_nano`` trained on the offline demo set (10 scikit-image
  photos, 5 synthetic degradations) by ``python -m exda_lite.reference demo-weights``; size, sha256,
  command, commit and held-out PSNR curve in ``MANIFEST.json``. A demo model, not a benchmark model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent
DEMO_WEIGHTS = WEIGHTS_DIR / "exda_nano_demo.safetensors"
MANIFEST = WEIGHTS_DIR / "MANIFEST.json"


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def demo_weights_path() -> Path:
    """The bundled demo weights, checked against the manifest's sha256 (a clear error otherwise)."""
    if not DEMO_WEIGHTS.is_file() or not MANIFEST.is_file():
        raise FileNotFoundError(f"no bundled demo weights at {DEMO_WEIGHTS}; train them with "
                                "`python -m exda_lite.reference demo-weights`, or pass --weights")
    if sha256(DEMO_WEIGHTS) != json.loads(MANIFEST.read_text())["sha256"]:
        raise ValueError(f"{DEMO_WEIGHTS} does not match the sha256 in {MANIFEST}: the file is damaged or was "
                         "replaced; restore it with `git checkout` or retrain it")
    return DEMO_WEIGHTS


def demo_manifest() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def load_demo_model(device="cpu"):
    """(model, info) of the bundled demo ``exda_nano``, in eval mode."""
    from ..training.checkpoints import load_model

    return load_model(demo_weights_path(), device)


def demo_model_or_untrained(device="cpu", seed: int = 0):
    """(model, about): the bundled trained demo ``exda_nano`` if it is here and intact, else an untrained
    ``exda_nano`` (seeded), with one sentence saying which it is and why."""
    try:
        model, _ = load_demo_model(device)
    except (FileNotFoundError, ValueError) as error:
        from ..nn.model import build_model

        import torch

        torch.manual_seed(seed)
        return build_model("exda_nano").to(device).eval(), f"an UNTRAINED exda_nano ({error})"
    manifest = demo_manifest()
    last = manifest.get("val_psnr", [{}])[-1]
    return model, (f"the bundled demo exda_nano, trained for {manifest.get('steps')} steps on 10 photos with 5 "
                   f"synthetic degradations (held-out PSNR {last.get('input', float('nan')):.2f} -> "
                   f"{last.get('val_psnr', float('nan')):.2f} dB); a demo model, not a benchmark model")
