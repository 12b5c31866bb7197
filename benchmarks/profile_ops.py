"""Where the CPU time goes: ``torch.profiler`` tables of the top operators (self CPU time) of

* ``restormer``   one forward of the restormer config at 128^2 (batch 1, no grad): plain NCHW and our
                  inference path (``prepare_for_inference``);
* ``exda_t``      one training step of exda_t (batch 4, 128^2, fwd + bwd + Adam), NCHW and channels_last;
* ``tiny``        one training step of the fig5_pool reference model (TinyRestorer, 32 ch, 2 blocks, GST +
                  nonlinear value, batch 16, 32^2), the restoration references' network;
* ``toy``         one training step of span_synthetic's ToyAttentionNet (16 ch, 2 blocks, batch 32, 1 x 64).

    python benchmarks/profile_ops.py                    # all cases, markdown tables
    python benchmarks/profile_ops.py tiny toy --rows 8 --threads 1

Each table: operator, self CPU time per iteration (ms), its share of the total, calls per iteration.
The README's *Speed* section quotes these tables; rerun this after a change to see what moved.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from exda_lite.nn.model import build_model
from exda_lite.reference.experiments import EXPERIMENTS
from exda_lite.training.speed import prepare_for_inference, to_channels_last


def forward_case(channels_last: bool):
    torch.manual_seed(0)
    model = build_model("restormer").eval()
    model = prepare_for_inference(model, "cpu", channels_last=channels_last)
    x = torch.rand(1, 3, 128, 128)

    def run():
        with torch.no_grad():
            model(x)
    return run


def step_case(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, channels_last: bool, mse: bool = False):
    if channels_last:
        model = to_channels_last(model)
        x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        out = model(x)
        loss = F.mse_loss(out, y) if mse else (out - y).abs().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return run


def reference_model(name: str, arm: str):
    experiment = EXPERIMENTS[name]
    return experiment.make_model(arm, 0, experiment.settings).train(), experiment.settings


def cases(channels_last: bool) -> dict:
    tiny, s = reference_model("fig5_pool", "both")
    toy, t = reference_model("span_synthetic", "nonlinear")
    return {
        "restormer": lambda: (forward_case(channels_last), 3),
        "exda_t": lambda: (step_case(build_model("exda_t").train(), torch.rand(4, 3, 128, 128),
                                     torch.rand(4, 3, 128, 128), channels_last), 1),
        "tiny": lambda: (step_case(tiny, torch.rand(s["batch_size"], 3, 32, 32), torch.rand(s["batch_size"], 3, 32, 32),
                                   channels_last, mse=True), 20),
        "toy": lambda: (step_case(toy, torch.rand(t["batch_size"], 1, 1, t["length"]),
                                  torch.rand(t["batch_size"], 1, 1, t["length"]), channels_last, mse=True), 40),
    }


def profile_table(run, iterations: int, rows: int) -> tuple[str, float]:
    """A markdown table of the ``rows`` operators with the most self CPU time, per iteration; and ms/iteration."""
    for _ in range(2):
        run()  # warm-up (allocator, oneDNN primitive caches)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iterations):
            run()
    events = [e for e in prof.key_averages() if not e.key.startswith("ProfilerStep")]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    lines = ["| operator | self ms / iter | share | calls / iter |", "|---|---|---|---|"]
    for e in events[:rows]:
        lines.append(f"| `{e.key}` | {e.self_cpu_time_total / 1000 / iterations:.2f} | "
                     f"{100 * e.self_cpu_time_total / total:.0f} % | {e.count / iterations:g} |")
    return "\n".join(lines), total / 1000 / iterations


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=["restormer", "exda_t", "tiny", "toy"])
    parser.add_argument("--rows", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layout", choices=["both", "nchw", "channels_last"], default="both")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    layouts = {"both": (False, True), "nchw": (False,), "channels_last": (True,)}[args.layout]
    print(f"# torch {torch.__version__}, CPU, {torch.get_num_threads()} threads")
    for name in args.cases:
        for channels_last in layouts:
            run, iterations = cases(channels_last)[name]()
            table, per_iter = profile_table(run, iterations, args.rows)
            layout = "channels_last" if channels_last else "NCHW"
            print(f"\n### {name}, {layout}: {per_iter:.1f} ms self CPU per iteration ({iterations} iterations)\n")
            print(table, flush=True)


if __name__ == "__main__":
    main()
