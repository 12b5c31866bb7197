"""Notebook 09's tables, figures and generated text: what the measurements of :mod:`.ablation` say, in words.

* :func:`setup`             checks 09's parameters, sets threads and seed
* :func:`scale_table`       this run's scale beside Fig. 5's
* :func:`summary_table`     mean ± std per variant, per seed, beside what the paper's text states
* :func:`ablation_figure`   seeds as dots, paired differences, held-out PSNR during training
* :func:`comparison`        each variant vs the baseline: t-tests and the seeds a test would need (">100": out of reach)
* :func:`seeds_phrase`      "about 12 seeds" / "more than 100 seeds: not reachable at this budget"
* :func:`reading`           the ablation's verdict in plain words, from the numbers
* :func:`latency_table`     latency per side, its log-log slope, beside Fig. 6
* :func:`latency_figure`    latency vs resolution and vs model size
* :func:`overhead_figure`, :func:`overhead_reading`: what each primitive costs, as ratios
"""

from __future__ import annotations

import math
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..nn.configs import CONFIGS, PAPER_SIZES
from ..utils import pick_device, seed_everything
from . import ablation
from .ablation import BASELINE, FIG5_VARIANTS, PAPER_CONTEXT, PAPER_FIG5, PAPER_FIG6
from .notebook import at_least_two, check_parameters, device_name, image_sides, machine_load, model_names, positive_int

MAX_SEEDS = 100  # beyond this many seeds per variant, "seeds needed" is reported as out of reach
PAPER_SLOPE = float(np.log(840.1 / 54.5) / np.log((1024 / 256) ** 2))  # Fig. 6a: 256² -> 1024², ExDA-T on GPU


def parameter_rules() -> dict:
    """Notebook 09's parameters and the rule each value must satisfy."""
    return {
        "OUT_DIR": str, "SEEDS": at_least_two, "CHANNELS": positive_int, "BLOCKS": positive_int,
        "HEADS": positive_int, "PATCH": positive_int, "SAMPLES_PER_DEGRADATION": positive_int,
        "STEPS": positive_int, "BATCH_SIZE": positive_int, "LR": float, "COST_MODELS": model_names,
        "FLOP_SIDE": positive_int, "LATENCY_SIDES": image_sides, "MIN_RUN_TIME": float,
        "OVERHEAD_MODEL": tuple(CONFIGS), "OVERHEAD_SIDE": positive_int, "OVERHEAD_ROUNDS": positive_int,
        "THREADS": int, "SEED": int, "DEVICE": device_name, "REFERENCE": ("auto", "off"),
    }


def setup(namespace: dict) -> tuple[dict, torch.device, list[int]]:
    """Check the parameters, set torch's threads and the seed; return ``(params, device, seeds)``."""
    params = check_parameters(namespace, parameter_rules())
    device = pick_device(params["DEVICE"])
    if params["THREADS"] > 0:
        torch.set_num_threads(params["THREADS"])
    seed_everything(params["SEED"])
    seeds = list(range(params["SEED"], params["SEED"] + params["SEEDS"]))
    print(params, "| device:", device, "| threads:", torch.get_num_threads(), "|", machine_load())
    return params, device, seeds


def scale_table(p: dict, test_crops: int) -> pd.DataFrame:
    """What this run is, beside what Fig. 5 is."""
    return pd.DataFrame([
        ("model", "ExDA U-Net, 22M parameters, 4 levels",
         f"TinyRestorer, {p['CHANNELS']} channels, {p['BLOCKS']} block(s), 1 level"),
        ("data", "3 degradations: SOTS, Rain100L, BSD400+WED", "demo set: 13 photos, 5 synthetic degradations"),
        ("training", "130 epochs, batch 32, 128² patches", f"{p['STEPS']} steps, batch {p['BATCH_SIZE']}, {p['PATCH']}² patches"),
        ("test set", "thousands of test images", f"{test_crops} crops of 64²"),
        ("repeats", "1 run per bar (not stated)", f"{p['SEEDS']} seeds per variant, paired"),
    ], columns=["", "paper (Fig. 5, Sec. 4.2, App. A)", "this run"]).set_index("")


def summary_table(psnr: dict, runs: pd.DataFrame, input_psnr: float) -> pd.DataFrame:
    """mean ± std per variant (prints it with the per-seed PSNRs and what the paper's text says); returns it."""
    variants = list(psnr)
    summary = ablation.seed_summary(psnr)
    summary["gain over input"] = summary["mean"] - input_psnr
    summary["ours: mean ± std (dB)"] = [f"{m:.2f} ± {s:.2f}" for m, s in zip(summary["mean"], summary["std"])]
    paper = [PAPER_FIG5[n] for n in variants]
    summary["paper: PSNR / SSIM"] = [f"{p['psnr']:.2f} / {p['ssim']:.3f}" if p["psnr"] else "not in the text" for p in paper]
    summary["paper: what the text says"] = [p["claim"] for p in paper]
    per_seed = runs.pivot(index="variant", columns="seed", values="psnr").loc[variants]
    per_seed.columns = [f"seed {s}" for s in per_seed.columns]
    print(f"held-out input (no restoration): {input_psnr:.2f} dB\n")
    print(per_seed.join(summary[["ours: mean ± std (dB)", "gain over input"]]).to_string(float_format=lambda v: f"{v:.2f}"))
    print()
    print(summary[["paper: PSNR / SSIM", "paper: what the text says"]].to_string())
    print("context from the text:", "; ".join(f"{k}: {p:.2f} / {s:.3f}" for k, (p, s) in PAPER_CONTEXT.items()))
    return summary


def short_name(name: str) -> str:
    return name.replace(" (Restormer-style)", "").replace(" (ExDA)", "")


def ablation_figure(runs: pd.DataFrame, curves: pd.DataFrame, summary: pd.DataFrame, input_psnr: float):
    """Left: every seed, joined across variants, mean ± std; middle: paired differences; right: PSNR in training."""
    seeds = sorted(runs.seed.unique())
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    palette = dict(zip(seeds, sns.color_palette("tab10", len(seeds))))
    order = [short_name(n) for n in FIG5_VARIANTS if n in set(runs.variant)]
    plot_runs = runs.assign(v=runs.variant.map(short_name))
    for seed, group in plot_runs.groupby("seed"):
        axes[0].plot(order, group.set_index("v").loc[order].psnr, "-", color=palette[seed], alpha=0.5, lw=1)
    sns.stripplot(data=plot_runs, x="v", y="psnr", hue="seed", palette=palette, order=order, size=8, jitter=False, ax=axes[0])
    axes[0].errorbar(np.arange(len(order)) + 0.2, summary["mean"], yerr=summary["std"], fmt="o", color="black", ms=5,
                     capsize=6, lw=2, label="mean ± std")
    axes[0].set(xlabel="", ylabel="held-out PSNR (dB)", title=f"{len(seeds)} seeds per variant")
    axes[0].legend(fontsize=8, title="seed", title_fontsize=8)
    base = plot_runs[plot_runs.variant == BASELINE][["seed", "psnr"]]
    diffs = plot_runs.merge(base, on="seed", suffixes=("", "_base"))
    diffs = diffs[diffs.variant != BASELINE].assign(delta=lambda d: d.psnr - d.psnr_base)
    sns.stripplot(data=diffs, x="v", y="delta", hue="seed", palette=palette, order=order[1:], size=8, jitter=False,
                  ax=axes[1], legend=False)
    axes[1].plot(np.arange(len(order) - 1) + 0.2, diffs.groupby("v").delta.mean().loc[order[1:]], "ko", ms=6)
    axes[1].axhline(0, color="gray", lw=1, ls="--")
    axes[1].set(xlabel="", ylabel="PSNR − same seed's baseline (dB)", title="paired differences (black: their mean)")
    sns.lineplot(data=curves.assign(v=curves.variant.map(short_name)), x="step", y="psnr", hue="v", hue_order=order,
                 marker="o", errorbar=None, ax=axes[2])
    axes[2].axhline(input_psnr, color="gray", ls=":", lw=1, label="input")
    axes[2].set(ylabel="held-out PSNR (dB)", title="during training (mean over seeds)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def comparison(psnr: dict) -> pd.DataFrame:
    """:func:`.ablation.compare_to_baseline` plus ``seeds_needed`` (unpaired, 80 % power, alpha 0.05)."""
    table = ablation.compare_to_baseline(psnr)
    needed = [ablation.seeds_needed(d, s) for d, s in zip(table.delta, table.seed_std)]
    table["seeds_needed"] = [f"{max(2, math.ceil(n))}" if n <= MAX_SEEDS else f">{MAX_SEEDS}" for n in needed]
    return table


def seeds_phrase(n: float) -> str:
    """How many seeds per variant a test would need, in words; beyond :data:`MAX_SEEDS` it is out of reach."""
    if not math.isfinite(n) or n > MAX_SEEDS:
        return f"more than {MAX_SEEDS} seeds per variant: not reachable at this budget"
    return f"about {max(2, math.ceil(n))} seeds per variant"


def verdict_line(name: str, row, bonferroni: float, alpha: float = 0.05) -> str:
    direction = "better" if row.delta > 0 else "worse" if row.delta < 0 else "no change"
    verdict = (f"significant even after Bonferroni (paired p < {bonferroni:.3f})" if row.paired_p < bonferroni
               else "significant at 0.05 only without correction (paired)" if row.paired_p < alpha
               else "not significant")
    return (f"{name}: mean difference to the baseline {row.delta:+.2f} dB ({direction}), {row.delta_over_std:+.2f} seed "
            f"stds, above the same seed's baseline in {row.wins} seeds; Welch p = {row.welch_p:.2f}, paired p = "
            f"{row.paired_p:.2f}: {verdict}. Paper: {PAPER_FIG5[name]['claim']}. Detecting a difference this size with an "
            f"unpaired test would take {seeds_phrase(ablation.seeds_needed(row.delta, row.seed_std))}.")


def reading(summary: pd.DataFrame, table: pd.DataFrame, curves: pd.DataFrame, input_psnr: float,
            alpha: float = 0.05) -> list[str]:
    """The ablation in plain words, generated from the numbers (nothing typed in by hand)."""
    bonferroni = alpha / len(table)
    spread = float(summary["std"].mean())
    steps = sorted(curves.step.unique())
    late = (curves[curves.step == steps[-1]].psnr.mean() - curves[curves.step == steps[-2]].psnr.mean()
            if len(steps) > 1 else float("nan"))
    lines = [f"Seed-to-seed spread of one variant: {spread:.2f} dB on average; input {input_psnr:.2f} dB, best mean "
             f"{summary['mean'].max():.2f} dB ({summary['gain over input'].max():+.2f} dB vs the input)."]
    lines += [verdict_line(name, row, bonferroni, alpha) for name, row in table.iterrows()]
    helped = [name for name, row in table.iterrows() if row.delta > 0]
    shown = [name for name, row in table.iterrows() if row.delta > 0 and row.paired_p < alpha]
    lines.append(f"Paper's direction (every primitive helps) seen for {len(helped)} of {len(table)} variants"
                 f"{': ' + ', '.join(helped) if helped else ''}; shown significantly (paired p < {alpha}) for "
                 f"{len(shown)}{': ' + ', '.join(shown) if shown else ''}.")
    if len(shown) == len(table):
        lines.append(f"Every variant beats the baseline with paired p < {alpha} here. With {len(curves.seed.unique())} "
                     f"seeds and {len(table)} comparisons, check the Bonferroni threshold ({bonferroni:.3f}) and re-run "
                     "with more seeds before calling it a reproduction of Fig. 5.")
        return lines
    why = (f"So at this scale the paper's effect is NOT reproduced as evidence. Why: the differences between variants "
           f"({table.delta.abs().min():.2f}-{table.delta.abs().max():.2f} dB) are no larger than the seed-to-seed "
           f"spread ({spread:.2f} dB)")
    if late > table.delta.abs().max():
        why += (f", and in the last {steps[-1] - steps[-2]} steps the held-out PSNR still rose by {late:+.2f} dB on "
                "average, more than any difference between variants: the runs stop while the models are still learning.")
    else:
        why += f"; the curves have flattened (last interval {late:+.2f} dB), so more seeds, not more steps, are missing."
    return lines + [why]


def latency_table(latency: pd.DataFrame, slopes: dict, sizes: pd.DataFrame, device, loads: tuple[str, str]) -> pd.DataFrame:
    """Latency (ms) per model and side with its log-log slope; prints it beside Fig. 6 and returns it."""
    models = list(dict.fromkeys(latency.model))
    table = latency.pivot(index="model", columns="side", values="latency_ms").loc[models]
    table.columns = [f"{s}² (ms)" for s in table.columns]
    table["log-log slope"] = pd.Series(slopes)
    print(f"{device}, {torch.get_num_threads()} thread(s); before: {loads[0]}; after: {loads[1]}\n")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"\npaper (Fig. 6a, ExDA-T on GPU, 256²→1024²): slope {PAPER_SLOPE:.2f}. 1.0 = linear in HW.")
    if {"exda_t", "exda_b"} <= set(models):
        ours = table.loc["exda_b"].iloc[-2] / table.loc["exda_t"].iloc[-2]
        paper = PAPER_FIG6["model_ms"]["exda_b"] / PAPER_FIG6["model_ms"]["exda_t"]
        params = sizes.loc["exda_b", "params (M)"] / sizes.loc["exda_t", "params (M)"]
        print(f"ExDA-B / ExDA-T latency at {latency.side.max()}²: ours {ours:.2f}x, paper (Fig. 6b) {paper:.2f}x; "
              f"parameters {params:.2f}x.")
    return table


def latency_figure(latency: pd.DataFrame, slopes: dict, sizes: pd.DataFrame, device):
    """Left: latency vs pixels (log-log) with slope 1 and the paper's two points; right: latency vs parameters."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    ax = axes[0]
    for name, g in latency.groupby("model", sort=False):
        ax.plot(g.pixels, g.latency_ms, "o-", label=f"{name} (slope {slopes[name]:.2f})")
    sides = (latency.side.min(), latency.side.max())
    first = latency[latency.side == sides[0]].latency_ms.max()  # anchor at the slowest model's first point
    px = np.array(sides) ** 2
    ax.plot(px, first * px / px[0], "k:", lw=1.5, label="slope 1: time ∝ H·W")
    ax.plot([256 ** 2, 1024 ** 2], [54.5, 840.1], "s--", color="gray", label="paper Fig. 6a: ExDA-T, GPU")
    ax.set(xscale="log", yscale="log", xlabel="pixels H·W", ylabel="forward latency (ms)",
           title=f"Latency vs resolution ({device}, {torch.get_num_threads()} thread(s))")
    ax.legend(fontsize=7); ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    largest = latency[latency.side == sides[1]].set_index("model")
    ax.scatter(sizes.loc[largest.index, "params (M)"], largest.latency_ms)
    for name in largest.index:
        ax.annotate(name, (sizes.loc[name, "params (M)"], largest.loc[name, "latency_ms"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xscale="log", xlabel="parameters (M)", ylabel=f"latency at {sides[1]}² (ms)",
           title="Latency vs model size (Fig. 6b; paper: T 209.6 → B 385.5 ms)")
    ax.grid(alpha=0.3, which="both"); ax.margins(0.12)
    fig.tight_layout()
    return fig


def overhead_figure(ratios: pd.DataFrame, per_round: pd.DataFrame, model: str):
    """Bars: each primitive's parameter, FLOP and latency ratio to the backbone; dots: each round's latency ratio."""
    extra = ratios.drop(index=BASELINE).rename(columns={"params": "parameters"})
    ax = extra.T.plot.bar(figsize=(8, 3.8), rot=0, width=0.75)
    for i, name in enumerate(extra.index):
        x = 2 + (i - (len(extra) - 1) / 2) * 0.75 / len(extra)
        ax.plot([x] * len(per_round), per_round[name], "k.", ms=5, label="latency, one round" if i == 0 else None)
    ax.axhline(1, color="gray", lw=1)
    ax.set(ylabel=f"ratio to the {model} backbone", ylim=(min(0.9, extra.values.min() * 0.97), None),
           title="Overhead of the primitives (1.0 = free)")
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def overhead_reading(ratios: pd.DataFrame, costs: pd.DataFrame, model: str, side: int, device) -> list[str]:
    """Each primitive's overhead in words, and where latency and FLOPs disagree."""
    variants = list(FIG5_VARIANTS)
    nv, gst, both = (ratios.loc[n] - 1 for n in variants[1:])
    lines = [f"{label:16s} {r['params']:+.1%} parameters, {r['FLOPs']:+.1%} FLOPs, {r['latency']:+.1%} latency."
             for label, r in (("Nonlinear value:", nv), ("GST:", gst), ("Both (ExDA):", both))]
    lines[-1] = lines[-1][:-1] + f" on this {device} at {side}² ({machine_load()})."
    uncounted = {"nonlinear value": "the depthwise conv and GELU of g", "GST": "pooling, spatial softmax, upsampling"}
    for name, row in (("nonlinear value", nv), ("GST", gst)):
        gap = row["latency"] - row["FLOPs"]
        lines.append(f"{name}: latency overhead {'above' if gap > 0 else 'below'} its FLOP overhead by {abs(gap):.1%} "
                     "points" + (f" ({uncounted[name]}: ops that move memory but count few or no FLOPs)."
                                 if gap > 0.02 else "."))
    lines.append("Whether that is 'negligible' is a judgement; the paper gives no per-primitive overhead numbers.")
    paper_params = PAPER_SIZES[model][0]
    if paper_params:
        lines.append(f"Table A lists {paper_params / 1e6:.2f}M parameters for {model}: ours "
                     f"{costs.loc[BASELINE, 'params'] / 1e6:.2f}M without the primitives, "
                     f"{costs.loc[variants[-1], 'params'] / 1e6:.2f}M with both (README, Models and their sizes).")
    return lines


def results(p: dict, m: dict, started: float) -> dict:
    """``OUT_DIR/09_ablations_and_efficiency.json`` from the notebook's measurements ``m`` (names as in the notebook)."""
    import os
    import platform

    variants, sizes, latency = list(FIG5_VARIANTS), m["sizes"], m["latency"]
    return {
        "reference": m["reference"], "input_psnr": m["input_psnr"], "reading": m["reading"],
        "ablation": {name: {"per_seed_psnr": dict(zip(map(str, m["seeds"]), m["psnr"][name])),
                            "mean": float(m["summary"].loc[name, "mean"]), "std": float(m["summary"].loc[name, "std"]),
                            "parameters": int(m["variant_sizes"].loc[name, "parameters"])} for name in variants},
        "comparison_vs_baseline": {name: {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
                                   for name, row in m["comparison"].iterrows()},
        "paper_fig5": {n: PAPER_FIG5[n] for n in variants}, "paper_context": {k: list(v) for k, v in PAPER_CONTEXT.items()},
        "paper_fig6": {"resolution_ms": {str(k): v for k, v in PAPER_FIG6["resolution_ms"].items()},
                       "model_ms": PAPER_FIG6["model_ms"], "model_psnr": PAPER_FIG6["model_psnr"],
                       "loglog_slope": PAPER_SLOPE},
        "sizes_source": m["sizes_source"],
        "efficiency": {name: {"params": float(sizes.loc[name, "params (M)"] * 1e6),
                              "gmac_224": float(sizes.loc[name, "GMAC @ 224²"]),
                              "paper_params_m": float(sizes.loc[name, "paper params (M)"]),
                              "paper_g_224": float(sizes.loc[name, "paper G @ 224²"]),
                              "latency_ms": {str(r.side): float(r.latency_ms) for r in latency[latency.model == name].itertuples()},
                              "loglog_slope": m["slopes"][name]} for name in p["COST_MODELS"]},
        "overhead": {"model": p["OVERHEAD_MODEL"], "side": p["OVERHEAD_SIDE"], "rounds": p["OVERHEAD_ROUNDS"],
                     "costs": {n: {k: float(v) for k, v in row.items()} for n, row in m["costs"].iterrows()},
                     "ratios": {n: {k: float(v) for k, v in row.items()} for n, row in m["ratios"].iterrows()},
                     "latency_rounds_ms": (1e3 * m["turns"]).to_dict("list")},
        "machine": {"device": str(m["device"]), "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                    "platform": platform.platform(), "load_before_latency": m["loads"][0],
                    "load_after_latency": m["loads"][1], "load_at_end": machine_load()},
        "scale": {"model": "TinyRestorer", "channels": p["CHANNELS"], "blocks": p["BLOCKS"], "heads": p["HEADS"],
                  "steps": p["STEPS"], "batch": p["BATCH_SIZE"], "patch": p["PATCH"], "seeds": m["seeds"],
                  "test_crops": m["test_crops"]},
        "parameters": p, "runtime_s": round(time.time() - started, 1),
    }
