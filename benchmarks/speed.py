"""Speed: forward-time ratios of our inference path vs a plain NCHW eager forward of the same weights,
eager and compiled, and training-step throughput (img/s).

    python benchmarks/speed.py                          # restormer config, 128^2, this machine's threads
    python benchmarks/speed.py --no-compile --threads 2 --rounds 5

Forward rows (batch 1, no grad, eval mode; the models are timed in turns, ``--rounds`` times, and the
ratios are median to plain's median of ``--rounds`` (the issue's measure; best to best beside it):
  plain       the model in NCHW, eager: the reference (ratio 1.00)
  ours        ``prepare_for_inference`` at defaults (channels_last on CPU), eager
  compiled    ``prepare_for_inference(..., compile_model=True)`` (compile time printed, not counted)
Training rows: ``train_step`` of the real loop (fwd+bwd+Adam), batch ``--train-batch`` at 128^2,
fp32, NCHW vs channels_last. Numbers on a shared machine vary with its load: say so when you quote them.
Reference rows (``--reference``): steps per second of ``toy.train_toy`` (the reference runner's loop:
batch gather, fwd+bwd+Adam, EMA where the experiment has it) on each reference experiment's task and its
largest arm, one thread as ``reference run --threads 1`` trains, NCHW (the code before issue 20: its NCHW
path is bit for bit unchanged) vs the default (channels_last on 2-D images), in turns, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import time
from statistics import median

import torch

from exda_lite.course import toy
from exda_lite.nn.model import build_model
from exda_lite.reference.experiments import EXPERIMENTS
from exda_lite.training.speed import prepare_for_inference, to_channels_last


def interleaved_forward_times(models: dict, x: torch.Tensor, rounds: int) -> dict[str, list[float]]:
    """Seconds per forward of each model, measured in turns (plain, ours, compiled, plain, ...), so that a
    load spike on a shared machine hits every model alike."""
    times = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():
            model(x)  # warm-up
        for _ in range(rounds):
            for name, model in models.items():
                start = time.perf_counter()
                model(x)
                times[name].append(time.perf_counter() - start)
    return times


def forward_ratios(name: str, size: int, rounds: int, compile_model: bool):
    """Yield (label, best s, median s, best / plain best, median / plain median) rows."""
    torch.manual_seed(0)
    plain = build_model(name).eval()
    x = torch.rand(1, 3, size, size)
    ours = prepare_for_inference(build_model(name), "cpu")
    ours.model.load_state_dict(plain.state_dict())
    with torch.no_grad():
        assert torch.allclose(ours(x), plain(x), atol=1e-5), "channels_last output differs from NCHW"
    models = {"plain NCHW eager": plain, "ours, defaults (channels_last)": ours}
    if compile_model:
        compiled = prepare_for_inference(ours.model, "cpu", compile_model=True)
        start = time.time()
        with torch.no_grad():
            compiled(x)
        models[f"ours, compiled (compile {time.time() - start:.0f} s)"] = compiled
    times = interleaved_forward_times(models, x, rounds)
    base_best, base_median = min(times["plain NCHW eager"]), median(times["plain NCHW eager"])
    for label, values in times.items():
        yield label, min(values), median(values), min(values) / base_best, median(values) / base_median


def train_throughput(name: str, batch: int, size: int, steps: int, channels_last: bool) -> float:
    torch.manual_seed(0)
    model = build_model(name).train()
    if channels_last:
        model = to_channels_last(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    x, y = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = (model(x) - y).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return batch / (sum(times[1:]) / steps)  # the first step is a warm-up


REFERENCE_ARMS = {"span_synthetic": "nonlinear", "span_digits": "nonlinear", "span_ladder": "restormer_block.nonlinear",
                  "digits_ladder": "restormer_block.nonlinear", "fig5": "both", "table7": "residual_gelu",
                  "gst_strides": "stride_1", "fig5_pool": "both", "gst_mechanism": "gst_rms"}
"""The arm timed per experiment: its most expensive network."""


def reference_rates(name: str, steps: int, rounds: int) -> dict[str, float]:
    """Steps per second of ``train_toy`` on experiment ``name``'s task, NCHW vs the default layout, in turns."""
    experiment = EXPERIMENTS[name]
    s = experiment.settings
    task = experiment.make_task(s)
    task = dict(task, test_degraded=task["test_degraded"][:1], test_clean=task["test_clean"][:1])  # time training
    default = toy.toy_channels_last(task["train_degraded"])
    layouts = {"NCHW": False, "default": None}
    best = {label: float("inf") for label in layouts}
    for round_ in range(rounds + 1):
        for label, channels_last in layouts.items():
            model = experiment.make_model(REFERENCE_ARMS[name], 0, s)
            start = time.perf_counter()
            toy.train_toy(model, task, steps=steps if round_ else 3, batch_size=s["batch_size"], lr=s["lr"],
                          eval_every=10**9, progress=False, ema=s.get("ema", 0.0), channels_last=channels_last)
            if round_:  # round 0 warms up
                best[label] = min(best[label], time.perf_counter() - start)
    return {"NCHW": steps / best["NCHW"], "default": steps / best["default"],
            "layout": "channels_last" if default else "NCHW"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="restormer")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved forward timings per model")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--train-models", nargs="*", default=["exda_nano", "exda_t"])
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--reference", nargs="*", default=None, metavar="EXPERIMENT",
                        help="also time the reference experiments' training (no names: all); 1 thread")
    parser.add_argument("--reference-steps", type=int, default=60)
    parser.add_argument("--skip-forward", action="store_true", help="only the --reference rows")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.skip_forward:
        forward_and_training_rows(args)
    if args.reference is not None:
        torch.set_num_threads(1)
        print(f"# reference experiments: train_toy steps per second, 1 thread, best of {args.rounds} in turns")
        for name in args.reference or REFERENCE_ARMS:
            rates = reference_rates(name, args.reference_steps, args.rounds)
            print(f"reference {name:<15} {REFERENCE_ARMS[name]:<26} NCHW {rates['NCHW']:6.1f} steps/s  "
                  f"default ({rates['layout']}) {rates['default']:6.1f} steps/s  "
                  f"{rates['default'] / rates['NCHW']:.2f}x", flush=True)


def forward_and_training_rows(args) -> None:
    print(f"# torch {torch.__version__}, CPU, {torch.get_num_threads()} threads; {args.model} forward at {args.size}^2")
    for label, best, middle, ratio, median_ratio in forward_ratios(args.model, args.size, args.rounds,
                                                                    not args.no_compile):
        print(f"{label:<42} best {best * 1000:7.0f} ms  median {middle * 1000:7.0f} ms   "
              f"{median_ratio:.2f}x plain (medians), {ratio:.2f}x (bests)", flush=True)
    for name in args.train_models:
        for channels_last in (False, True):
            rate = train_throughput(name, args.train_batch, args.size, args.train_steps, channels_last)
            print(f"train step {name:<10} batch {args.train_batch} {'channels_last' if channels_last else 'NCHW':<14}"
                  f" {rate:7.2f} img/s", flush=True)


if __name__ == "__main__":
    main()
