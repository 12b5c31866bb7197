"""What a notebook shows: this run | the committed reference | the paper, side by side.

``show(name, this_run)`` prints a three-column table and the paired verdict computed from the
reference (never from the short live run), draws the reference curves beside the live numbers,
and returns a dict for the notebook's results JSON. Without a committed reference it says so.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .paper import PAPER

REFERENCE_ENV = "EXDA_REFERENCE_DIR"
def reference_dir() -> Path:
    """``$EXDA_REFERENCE_DIR``, else ``reference/`` at the repository root (beside ``exda_lite/``)."""
    return Path(os.environ.get(REFERENCE_ENV) or Path(__file__).resolve().parents[2] / "reference")


def load_reference(name: str, folder=None) -> dict | None:
    """The committed ``<name>.json``, or None when there is none."""
    path = Path(folder or reference_dir()) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def arm_stats(reference: dict) -> dict:
    """Mean and sd of the final metric per arm, and how many runs met the convergence rule."""
    out = {}
    for arm, by_seed in reference["runs"].items():
        finals = [r["final"] for r in by_seed.values()]
        out[arm] = {"mean": float(np.mean(finals)), "sd": float(np.std(finals, ddof=1)) if len(finals) > 1 else math.nan,
                    "n": len(finals), "converged": sum(r["converged"] for r in by_seed.values()),
                    "steps": max(r["steps"] for r in by_seed.values())}
    return out


def paper_text(name: str, comparison: str) -> str:
    entry = PAPER.get(f"{name}.{comparison}")
    return "-" if entry is None else f"{entry['text']} [{entry['where']}]"


NETWORK_KEYS = ("channels", "blocks", "heads", "norm", "ffn", "value", "patch", "corruption", "degradation", "size")
"""Settings that change the network or the task: a live run that differs in one of them is another experiment."""


def setting_differences(reference: dict, settings: dict | None) -> dict:
    """``{"network": [...], "budget": [...]}``: the settings where this run differs from the reference, as text."""
    out = {"network": [], "budget": []}
    recorded = {**reference.get("settings", {}), "steps": reference.get("steps")}
    for key, value in (settings or {}).items():
        if key in recorded and recorded[key] is not None and json.dumps(recorded[key]) != json.dumps(value):
            kind = "network" if key in NETWORK_KEYS else "budget"
            out[kind].append(f"{key} {value!r} here vs {recorded[key]!r} in the reference")
    return out


def detectable(comparison: dict) -> float:
    """The half-width of the paired 95 % CI, t * sd / sqrt(n): effects smaller than this are invisible."""
    return (comparison["high"] - comparison["low"]) / 2 if math.isfinite(comparison["low"]) else math.nan


def predecessor(name: str) -> str | None:
    """The experiment ``name`` superseded (``Experiment.superseded_by``), if any."""
    return next((old for old, new in superseded_names().items() if new == name), None)


def superseded_names() -> dict:
    """old experiment or analysis -> the one that replaced it (``Experiment.superseded_by``, ``awareness.SUPERSEDED``)."""
    from .awareness import SUPERSEDED
    from .experiments import EXPERIMENTS

    return {**{n: e.superseded_by for n, e in EXPERIMENTS.items() if e.superseded_by}, **SUPERSEDED}


def missing(name: str, this_run, plot: bool, folder, settings) -> dict:
    """No ``<name>.json`` yet: say how to make it, and show the reference it supersedes (labelled), if there is one."""
    print(f"No committed reference for {name!r} in {Path(folder or reference_dir())}: run "
          f"`python -m exda_lite.reference run {name}` (or `make reference`) to create it.")
    older = predecessor(name)
    if older and load_reference(older, folder) is not None:
        print(f"Until then, the reference it supersedes, {older!r}: the first, underpowered design. Read its "
              "intervals as too wide to test the paper's effects, not as a verdict.")
        return {**show(older, this_run, True, plot, folder, settings), "superseded_by": name}
    return {"shown": False, "reason": "missing"}


def show(name: str, this_run: dict | None = None, enabled: bool = True, plot: bool = True, folder=None,
         settings: dict | None = None) -> dict:
    """Print this run | reference | paper for experiment ``name``; return what was shown (for the JSON).

    ``settings``: this run's settings (e.g. ``{"norm": False, "steps": 1000}``); every one that differs from the
    reference's is printed, and a different network is named as such instead of being compared silently.
    """
    if not enabled:
        print("reference hidden (REFERENCE='off')")
        return {"shown": False}
    reference = load_reference(name, folder)
    if reference is None:
        return missing(name, this_run, plot, folder, settings)
    if not reference["runs"]:  # only the pilot has run: it sized the experiment and gives no verdict
        print(pilot_text(reference))
        return {"shown": False, "reason": "pilot only", "pilot": reference.get("pilot", {}).get("power")}
    stats = arm_stats(reference)
    metric = reference["metric"]
    print(f"{metric}, final value per arm ({kind_of(stats)}: {reference['command']}, commit {reference['commit'][:10]})")
    if "settings" in reference:
        print("reference settings: " + ", ".join(f"{k}={v}" for k, v in reference["settings"].items() if k != "rungs"))
    elif settings:
        print("This reference does not record its settings (it predates that): it may be another network than this "
              "run's. Rerun it with `python -m exda_lite.reference run " + name + "` before comparing.")
    differences = setting_differences(reference, settings)
    if differences["network"]:
        print("NOT THE SAME EXPERIMENT: this run differs from the reference in " + "; ".join(differences["network"])
              + ". Read the reference as another network's result, not as a repetition of this run.")
    if differences["budget"]:
        print("Same network, other budget: " + "; ".join(differences["budget"]) + ".")
    width = max(12, *(len(arm) for arm in stats))
    print(f"{'arm':{width}s} {'this run':>12s} {'reference mean ± sd':>24s} {'runs converged':>16s}")
    for arm, s in stats.items():
        live = (this_run or {}).get(arm)
        live_text = f"{live:.5g}" if live is not None else "-"
        print(f"{arm:{width}s} {live_text:>12s} {s['mean']:>14.5g} ± {s['sd']:<8.2g} {s['converged']:>6d}/{s['n']} "
              f"({s['steps']} steps)")
    print(f"convergence rule: {reference['convergence_rule']}")
    if "decision" in reference:
        print("Each line below is one comparison on its own, before any multiplicity correction; the pre-registered "
              "outcome at the end applies Holm across them, and it is the experiment's answer.")
    for key, comparison in reference["comparisons"].items():
        print(comparison["text"])
        print(f"   smallest detectable effect (95 % CI half-width, t*sd/sqrt(n)): ±{detectable(comparison):.3g}"
              f" | paper: {paper_text(name, key)}")
        if "drift" in comparison:
            print("   " + drift_text(comparison["drift"]))
    print(reading(reference, stats))
    if "decision" in reference:
        print(decision_text(reference["decision"]))
    for key, control in reference.get("controls", {}).items():
        print(f"control, {key.replace('_', ' ')}: {control_text(control)}")
    if plot and any(r["curve"] for by_seed in reference["runs"].values() for r in by_seed.values()):
        plot_curves(reference, this_run)
    return {"shown": True, "command": reference["command"], "commit": reference["commit"], "arms": stats,
            "kind": kind_of(stats), "differences": differences,
            "comparisons": {k: {**{f: c[f] for f in ("n", "mean", "low", "high", "p")}, "detectable": detectable(c)}
                            for k, c in reference["comparisons"].items()}}


def pilot_text(reference: dict) -> str:
    """What a pilot-only reference can say: its seeds and, per comparison, the sd and the seeds a 0.3 dB CI needs."""
    from .experiments import EXPERIMENTS

    pilot, name = reference.get("pilot", {}), reference["experiment"]
    planned = EXPERIMENTS[name].planned_seeds if name in EXPERIMENTS else 0
    seeds = " ".join(map(str, range(planned))) if planned else "..."
    lines = [f"{name}: only the pilot has run (seeds {pilot.get('seeds', [])}); it sizes the confirmatory runs and "
             f"is never pooled with them. The pre-registered confirmatory run: `python -m exda_lite.reference run "
             f"{name} --seeds {seeds}`."]
    for key, row in pilot.get("power", {}).items():
        lines.append(f"   {key}: pilot sd of the paired differences {row['sd']:.2f}, seeds for a "
                     f"+-{row['target_halfwidth']} CI: {row['seeds_needed']}")
    return "\n".join(lines)


def drift_text(d: dict) -> str:
    """The difference's own movement over the last 20 % of steps (runner.drift), in words."""
    settled = ("the difference had settled (interval contains zero)" if d["low"] <= 0 <= d["high"]
               else "the difference was still " + ("rising" if d["mean"] > 0 else "falling")
               + " (more steps would probably move it further)")
    return (f"drift of the difference over the last 20 % of steps: {d['mean']:+.3g} "
            f"[{d['low']:+.3g}, {d['high']:+.3g}] -> {settled}")


def decision_text(decision: dict) -> str:
    """The pre-registered rule's outcome in one line, with the Holm-adjusted p-values it rests on."""
    p = ", ".join(f"{k} {v:.2g}" for k, v in decision["p_holm"].items() if math.isfinite(v))
    return (f"PRE-REGISTERED OUTCOME ({decision['rule']}; {decision['status']}): {decision['outcome']}"
            + (f" [Holm-adjusted p within the experiment: {p}]" if p else ""))


def plot_comparisons(reference: dict, labels: dict | None = None, no_effect: float = 0.15):
    """Every paired comparison of a reference as its mean with the 95 % CI, beside the "no effect" band
    (+-``no_effect``) of the pre-registered rules. ``labels``: comparison key -> axis label."""
    import matplotlib.pyplot as plt

    comparisons = reference["comparisons"]
    keys = list(comparisons)
    names = [(labels or {}).get(k, k.replace("_minus_", "\n- ")) for k in keys]
    mean = np.array([comparisons[k]["mean"] for k in keys])
    err = np.array([[comparisons[k]["mean"] - comparisons[k]["low"] for k in keys],
                    [comparisons[k]["high"] - comparisons[k]["mean"] for k in keys]])
    fig, ax = plt.subplots(figsize=(1.9 * len(keys) + 2, 3.4))
    ax.axhspan(-no_effect, no_effect, color="tab:green", alpha=0.15, label=f"'no effect' band (+-{no_effect})")
    ax.axhline(0, color="gray", ls=":")
    ax.errorbar(names, mean, yerr=err, fmt="o", color="black", capsize=5, label="mean, 95 % CI")
    n = max(c["n"] for c in comparisons.values())
    unit = "dB" if reference["metric"] == "test_psnr" else reference["metric"]
    ax.set_ylabel(f"paired difference ({unit})")
    ax.set_title(f"{reference['experiment']}: paired differences over {n} seeds")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()
    return fig


def kind_of(stats: dict) -> str:
    """Name the reference honestly: "converged" only when every run met the rule, else "fixed-budget"."""
    done = all(s["converged"] == s["n"] for s in stats.values())
    return "converged reference" if done else "fixed-budget reference"


def reading(reference: dict, stats: dict) -> str:
    """Plain words on what the reference can and cannot say: convergence, and the comparisons that show nothing."""
    done, total = sum(s["converged"] for s in stats.values()), sum(s["n"] for s in stats.values())
    lines = []
    if done < total:
        lines.append(f"Reading: {done} of {total} reference runs met the convergence rule, so these are results at a "
                     "fixed budget several times the teaching run's, not at convergence.")
    null = [k for k, c in reference["comparisons"].items() if math.isfinite(c["low"]) and c["low"] <= 0 <= c["high"]]
    if null:
        lines.append(f"{len(null)} of {len(reference['comparisons'])} comparisons cannot be told from zero at this "
                     "scale: each 95 % interval contains zero, so an effect of either sign up to its half-width (the "
                     "smallest detectable effect above) is compatible with the data: not evidence of no effect. That "
                     "neither confirms nor refutes the paper, whose models are larger, trained far longer, on the "
                     "real benchmarks.")
    return "\n".join(lines) if lines else "Reading: every run met the convergence rule and every comparison is clear."


def control_text(control: dict) -> str:
    """``{"nmi": 0.38, ...}`` or ``{arm: {"nmi_mean": ...}}`` as one short line."""
    if all(isinstance(v, dict) for v in control.values()):
        return "; ".join(f"{arm} {control_text(v)}" for arm, v in control.items())
    return ", ".join(f"{k.replace('_mean', '').upper()} {v:.3f}" for k, v in control.items())


def plot_curves(reference: dict, this_run: dict | None = None):
    """Reference held-out curves (mean over seeds, each seed faint) with this run's final values as markers."""
    import matplotlib.pyplot as plt

    metric = reference["metric"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    colors = {"linear": "tab:orange", "nonlinear": "tab:blue", "post": "tab:purple"}
    for arm, by_seed in reference["runs"].items():
        color = colors.get(arm)
        curves = [np.array([[p["step"], p[metric]] for p in r["curve"]]) for r in by_seed.values()]
        for c in curves:
            ax.plot(c[:, 0], c[:, 1], color=color, alpha=0.25, lw=0.8)
        length = min(len(c) for c in curves)
        mean = np.mean([c[:length, 1] for c in curves], axis=0)
        line, = ax.plot(curves[0][:length, 0], mean, color=color, lw=2, label=f"{arm} (reference)")
        if this_run and arm in this_run:
            ax.axhline(this_run[arm], color=line.get_color(), ls="--", lw=1, label=f"{arm} (this run, final)")
    if metric == "test_mse":
        ax.set_yscale("log")
    ax.set_xlabel("step"); ax.set_ylabel(metric)
    runs = next(iter(reference["runs"].values()))
    steps = max(r["steps"] for r in runs.values())
    ax.set_title(f"Reference: {reference['experiment']} ({len(runs)} seeds, {steps} steps)")
    ax.legend(fontsize=7, ncol=2)
    plt.tight_layout()
    plt.show()
    return fig


LADDER_LABELS = {"attention_only": "attention only", "groupnorm": "+ GroupNorm\n(per image)",
                 "layernorm": "+ LayerNorm\n(per pixel)", "gdfn": "+ GDFN", "restormer_block": "Restormer block\n(LN + GDFN)"}


def ladder_table(reference: dict) -> str:
    """The ``rungs`` of a ladder experiment as a text table: ratio, paired difference and its 95 % CI, n."""
    unit = "MSE, linear - nonlinear" if reference["metric"] == "test_mse" else "dB, nonlinear - linear"
    lines = [f"{'rung':16s} {'MSE ratio lin/nonlin':>20s} {'difference (' + unit + ')':>36s} {'95 % CI':>24s} {'n':>3s}"]
    for rung, r in reference["rungs"].items():
        interval = f"[{r['low']:+.3g}, {r['high']:+.3g}]"
        lines.append(f"{rung:16s} {r['ratio']:>20.3f} {r['mean']:>+36.4g} {interval:>24s} {r['n']:>3d}")
    return "\n".join(lines)


def plot_ladder(reference: dict, live: dict | None = None):
    """One bar per rung: the linear / nonlinear MSE ratio (left) and the paired difference with its 95 % CI (right).

    ``live``: optional ``{rung: ratio}`` of this notebook's own runs, drawn as markers on the left panel."""
    import matplotlib.pyplot as plt

    rungs = reference["rungs"]
    names = list(rungs)
    labels = [LADDER_LABELS.get(n, n) for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    colors = ["tab:red" if n in ("attention_only", "groupnorm") else "tab:gray" for n in names]
    left.bar(labels, [rungs[n]["ratio"] for n in names], color=colors)
    left.axhline(1, color="black", lw=1)
    if live:
        left.scatter([labels[names.index(n)] for n in live if n in names], [v for n, v in live.items() if n in names],
                     color="black", marker="D", zorder=3, label="this run")
        left.legend(fontsize=8)
    left.set_ylabel("final test MSE, linear / nonlinear")
    left.set_title("How much worse are linear values? (1 = no difference)")
    mean = np.array([rungs[n]["mean"] for n in names])
    err = np.array([[rungs[n]["mean"] - rungs[n]["low"] for n in names], [rungs[n]["high"] - rungs[n]["mean"] for n in names]])
    right.errorbar(labels, mean, yerr=err, fmt="o", color="black", capsize=4)
    right.axhline(0, color="gray", ls=":")
    unit = "linear - nonlinear MSE" if reference["metric"] == "test_mse" else "nonlinear - linear PSNR (dB)"
    right.set_ylabel(unit)
    n = max(r["n"] for r in rungs.values())
    right.set_title(f"paired difference, 95 % CI over {n} seeds")
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=8)
    plt.tight_layout()
    plt.show()
    return fig


def ladder_reading(reference: dict, threshold: float = 1.3) -> str:
    """Plain words per rung, generated from the ladder's numbers: where the span limitation shows and where not."""
    lines, n_conv = [], sum(r["converged"] for by_seed in reference["runs"].values() for r in by_seed.values())
    n_runs = sum(len(by_seed) for by_seed in reference["runs"].values())
    for rung, r in reference["rungs"].items():
        label = LADDER_LABELS.get(rung, rung).replace("\n", " ")
        clear = math.isfinite(r["low"]) and r["low"] > 0
        if clear and r["ratio"] >= threshold:
            words = f"linear values are {r['ratio']:.2f}x worse and the interval excludes zero: the limitation shows"
        elif clear:
            words = f"linear values are {r['ratio']:.2f}x worse, a small but clear gap"
        elif math.isfinite(r["high"]) and r["high"] < 0:
            words = f"linear values are better ({r['ratio']:.2f}x), the interval excludes zero"
        else:
            words = f"no clear difference ({r['ratio']:.2f}x; the interval contains zero)"
        lines.append(f"- {label}: {words} (n = {r['n']}).")
    lines.append(f"{n_conv} of {n_runs} runs met the convergence rule ({reference['convergence_rule']}).")
    return "\n".join(lines)
