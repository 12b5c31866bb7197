"""GPU check: exda_t at bf16, batch 32, 128x128, 50 steps, through the real ``train()``.

    make gpu-check                          # on a GPU machine: python benchmarks/gpu_check.py
    python benchmarks/gpu_check.py --dry    # the same code, tiny, on CPU (CI): exda_nano dim 8, batch 4, 16x16

Runs, each with EMA (0.999) and gradient accumulation (2 micro-batches of 16), channels_last:
compile off, compile on. Prints for each: images/s (steps after the first 10, so the compile is
not counted), peak memory (CUDA allocator peak; on CPU the process's peak RSS) and the loss trend
(mean loss of the first and the last 10 steps). The data are synthetic in-memory pairs (smooth
random images + Gaussian noise), so the data loader does not limit the GPU.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from exda_lite.training import TrainConfig, train

TINY = {"dim": 8, "blocks": (1, 1, 1, 1), "refinement": 1}


class SyntheticPairs(Dataset):
    """``count`` fixed (noisy, clean, 0) pairs: smooth random images, sigma 0.1 noise."""

    def __init__(self, count: int, size: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        low = torch.rand(count, 3, max(2, size // 8), max(2, size // 8), generator=g)
        self.clean = F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
        self.noisy = (self.clean + 0.1 * torch.randn(self.clean.shape, generator=g)).clamp(0, 1)

    def __len__(self) -> int:
        return len(self.clean)

    def __getitem__(self, index: int):
        return self.noisy[index], self.clean[index], 0


def check(compile_model: bool, dry: bool, steps: int, out_dir: str) -> dict:
    size, batch = (16, 4) if dry else (128, 32)
    config = TrainConfig(setting="demo", model="exda_nano" if dry else "exda_t",
                         model_overrides=TINY if dry else {}, batch_size=batch, patch_size=size,
                         max_steps=steps, epochs=1, precision="bf16", ema=0.999, accumulate=2, channels_last=True,
                         compile=compile_model, val_every=0, log_every=1, progress=False, tensorboard=False,
                         out_dir=out_dir)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    result = train(config, train_set=SyntheticPairs(batch * 8, size))
    rows = result.history
    timed = rows[10:] if len(rows) > 12 else rows[1:] or rows
    losses = [r["loss"] for r in rows]
    k = min(10, max(1, len(losses) // 2))
    return {"compile": compile_model, "img/s": float(np.mean([r["images_per_s"] for r in timed])),
            "peak GB": max(r["peak_mem_gb"] for r in rows), "loss first": float(np.mean(losses[:k])),
            "loss last": float(np.mean(losses[-k:])), "seconds": result.seconds}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry", action="store_true", help="tiny model on CPU: checks the code, not the GPU")
    parser.add_argument("--steps", type=int, default=None, help="default 50 (dry: 6)")
    parser.add_argument("--skip-compile", action="store_true", help="only the compile-off run")
    parser.add_argument("--dry-compile", action="store_true",
                        help="--dry: also the compile-on run (torch.compile of fwd+bwd on this CPU took > 400 s)")
    args = parser.parse_args(argv)
    if not args.dry and not torch.cuda.is_available():
        parser.error("no CUDA GPU here; use --dry to run the same code tiny on CPU")
    steps = args.steps or (6 if args.dry else 50)
    device = "cpu" if args.dry or not torch.cuda.is_available() else torch.cuda.get_device_name()
    print(f"# gpu-check: {'DRY (tiny, CPU)' if args.dry else 'exda_t'}, bf16, EMA 0.999, accumulate 2, "
          f"channels_last, {steps} steps, torch {torch.__version__}, {device}")
    results = []
    skip = args.skip_compile or (args.dry and not args.dry_compile)
    if skip:
        print("# compile-on run skipped" + (" (--dry: pass --dry-compile to include it)" if args.dry else ""))
    for compile_model in (False,) if skip else (False, True):
        with tempfile.TemporaryDirectory() as out_dir:
            r = check(compile_model, args.dry, steps, out_dir)
        results.append(r)
        print(f"compile={'on ' if compile_model else 'off'}  {r['img/s']:8.1f} img/s  peak {r['peak GB']:6.2f} GB  "
              f"loss {r['loss first']:.4f} -> {r['loss last']:.4f}  ({r['seconds']:.0f} s)")
    return results


if __name__ == "__main__":
    main()
