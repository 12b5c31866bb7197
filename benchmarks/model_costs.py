"""Parameters, MACs at 224x224 and CPU/GPU forward time of every named model.

    python benchmarks/model_costs.py                       # all models, 128^2 and 256^2
    python benchmarks/model_costs.py --models exda_t --sizes 128 256 512 --device cuda

Timings are medians of torch.utils.benchmark runs (batch 1, no grad, eval mode) on the
device and thread count printed in the header; they vary with machine load.
"""

from __future__ import annotations

import argparse

import torch

import exda_lite
from exda_lite.nn.configs import PAPER_SIZES


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(exda_lite.CONFIGS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-run-time", type=float, default=2.0, help="seconds of timing per cell")
    parser.add_argument("--no-flops", action="store_true", help="skip the (slow on CPU) FLOP count")
    args = parser.parse_args(argv)
    device = exda_lite.pick_device(args.device)
    print(f"# torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads")
    header = ["model", "params", "paper params", "GMAC@224", "paper G"] + [f"fwd {s}^2 (s)" for s in args.sizes]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in args.models:
        model = exda_lite.build_model(name).to(device).eval()
        params = exda_lite.count_parameters(model)
        macs = "-" if args.no_flops else f"{exda_lite.count_flops(model, (1, 3, 224, 224)) / 2e9:.1f}"
        paper_params, paper_flops = PAPER_SIZES[name]
        times = [exda_lite.time_forward(model, (1, 3, s, s), args.min_run_time, device)["median"] for s in args.sizes]
        row = [name, f"{params:,}", f"{paper_params / 1e6:.2f}M" if paper_params else "-", macs,
               str(paper_flops or "-")] + [f"{t:.3f}" for t in times]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
