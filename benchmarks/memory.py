"""Peak memory of one training step (forward + backward + Adam), 128x128 patches, measured on CPU.

    python benchmarks/memory.py                              # exda_t/s/b, fp32/bf16, +- activation checkpointing
    python benchmarks/memory.py --models exda_t --batches 1 2 --target-batch 32

How: every cell runs in its own subprocess (``python benchmarks/memory.py --cell ...``). After building
the model, Adam and the batch, the process resets its peak resident set size (``echo 5 >
/proc/self/clear_refs`` resets VmHWM on Linux) and records VmRSS as the baseline; then the first
training step runs and the cell reports VmHWM - baseline: activations, gradients and Adam's two
moments (all allocated in that step). ``static`` is the fp32 weights (4 bytes per parameter); the
table's peak is static + step. (A second step is not measured: memory freed by the first stays in
the CPU allocator's pool, and the peak RSS would no longer see it.)

Batch 32 does not fit this machine's RAM for every cell, so each cell is measured at two small batches
and extrapolated linearly to ``--target-batch`` (activations grow linearly with the batch):
``peak(32) = static + step(b1) + (step(b2) - step(b1)) / (b2 - b1) * (32 - b1)``. CPU kernels and the
CPU allocator differ from CUDA's, so this is an estimate of the GPU figure, not a GPU measurement.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CLEAR_REFS = Path("/proc/self/clear_refs")


def status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def cell(model_name: str, batch: int, precision: str, checkpointing: bool, size: int) -> dict:
    import torch

    from exda_lite.nn.model import build_model
    from exda_lite.training.losses import RestorationLoss
    from exda_lite.training.speed import checkpoint_blocks

    torch.manual_seed(0)
    model = build_model(model_name).train()
    if checkpointing:
        checkpoint_blocks(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    loss_fn = RestorationLoss(fourier_weight=0.1)
    x, y = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(x)
        loss = loss_fn(out.float(), y)["total"]
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()

    CLEAR_REFS.write_text("5")
    base = status_kib("VmRSS")  # weights and the batch are resident; nothing else of the step is
    step()  # the first step: it also allocates the gradients and Adam's moments (as on a GPU's first step)
    params = sum(p.numel() for p in model.parameters())
    return {"step_gib": (status_kib("VmHWM") - base) / 2**20, "static_gib": 4 * params / 2**30}


def run_cell(*args) -> dict:
    command = [sys.executable, __file__, "--cell", json.dumps(args)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["killed (out of memory?)"])[-1][:120]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["exda_t", "exda_s", "exda_b"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--batches", nargs=2, type=int, default=[1, 2])
    parser.add_argument("--target-batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(*json.loads(args.cell))))
        return
    b1, b2 = args.batches
    print(f"# peak memory of one training step at batch {args.target_batch}, {args.size}^2 "
          f"(CPU, extrapolated from batches {b1} and {b2}; GiB)")
    print(f"| model | precision | activation checkpointing | weights | step at b={b1} | step at b={b2} | "
          f"peak at batch {args.target_batch} |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        for precision in args.precisions:
            for checkpointing in (False, True):
                small = run_cell(name, b1, precision, checkpointing, args.size)
                large = run_cell(name, b2, precision, checkpointing, args.size)
                if "error" in small or "error" in large:
                    print(f"| {name} | {precision} | {checkpointing} | {small.get('error') or large.get('error')} |")
                    continue
                slope = (large["step_gib"] - small["step_gib"]) / (b2 - b1)
                peak = small["static_gib"] + small["step_gib"] + slope * (args.target_batch - b1)
                print(f"| {name} | {precision} | {'yes' if checkpointing else 'no'} | {small['static_gib']:.2f} | "
                      f"{small['step_gib']:.2f} | {large['step_gib']:.2f} | {peak:.1f} |", flush=True)


if __name__ == "__main__":
    main()
