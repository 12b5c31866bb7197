"""Running the reference: one cached JSON per finished (arm, seed), resumable state, the convergence rule.

Files under ``--out`` (default ``reference/`` at the repository root):

* ``runs/<experiment>/<arm>-seed<k>.json``  a finished run: its curve, final metric, convergence check
* ``<experiment>.json``                     the experiment: every run, paired CIs, command, commit, versions
* ``.state/``                               training state of unfinished runs (not committed)

A finished run is never recomputed; a killed run continues from its last saved state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .. import files
from ..course import toy
from ..training.preemption import EXIT_PREEMPTED, Preempted, stop_on_signals
from .experiments import EXPERIMENTS, Experiment, final_metric, train_arm
from .breakdown import per_degradation
from .provenance import environment, git_commit, last_fifth_change  # noqa: F401 - also read from here
from .stats import at_four_fifths, drift, paired_ci, power_table, verdict  # noqa: F401 - also read from here

ANALYSES = ("awareness", "awareness_pool")  # analyses of the weights fig5 / fig5_pool keep (exda_lite.reference.awareness)

CONVERGENCE = {
    "test_mse": ("relative", 0.01, "the held-out MSE moved by less than 1 % over the last 20 % of steps"),
    "test_psnr": ("absolute", 0.05, "the held-out PSNR moved by less than 0.05 dB over the last 20 % of steps"),
}
POWER_HALFWIDTH_DB = 0.3
"""The 95 % CI half-width (dB) a restoration comparison must reach (issue 22); a pilot says how many seeds it takes."""


def convergence(history: list[dict], metric: str) -> dict:
    """Apply the convergence rule to a run's held-out curve."""
    kind, tolerance, rule = CONVERGENCE[metric]
    change = last_fifth_change(history, metric, relative=kind == "relative")
    return {"rule": rule, "change": float(change), "tolerance": tolerance, "converged": bool(change < tolerance)}


def run_file(out: Path, name: str, arm: str, seed: int) -> Path:
    return out / "runs" / name / f"{arm}-seed{seed}.json"


def write_json(path: Path, data: dict) -> None:
    """Atomic, through a unique temporary file: two processes may write the same file at once."""
    files.write_json(path, data, indent=1)


def run_experiment(experiment: Experiment, seeds, device: str, out: Path, progress: bool = True,
                   arms=None) -> dict:
    """Train every missing (arm, seed) of ``experiment``, then write ``<name>.json``; return it.

    An arm listed in ``experiment.shared`` is the same run as another experiment's arm (same model,
    task and budget): it is trained once, under that experiment, and read from there. Each run holds
    a lock while it trains, so two ``run`` processes (one per core) can share the work safely.
    """
    task = None
    for wait in (False, True):  # first skip runs another process holds, then wait for them (so N processes fill N cores)
        for seed in seeds:
            for arm in (a for a in experiment.arms if arms is None or a in arms):
                owner, owner_arm = experiment.shared.get(arm, (experiment.name, arm))
                owner_exp = experiment if owner == experiment.name else EXPERIMENTS[owner]  # misspelt: KeyError
                path = run_file(out, owner, owner_arm, seed)
                with run_lock(path, wait) as held:
                    if not held or finished(path, owner_exp.budget(device), owner_exp.settings):
                        continue  # finished runs are never recomputed (unless the experiment's budget changed)
                    task = task if task is not None else experiment.make_task(experiment.settings)
                    with stop_on_signals("rerun the same command to continue"):  # SIGTERM/SIGINT: save, Preempted
                        train_one(owner_exp, task, owner_arm, seed, device, out, path, progress)
    return summarise(experiment, out, device)


def finished(path: Path, steps: int, settings: dict | None = None) -> bool:
    """A run is finished when its JSON exists with this budget and, if given, these settings (the same network)."""
    if not path.is_file():
        return False
    record = json.loads(path.read_text())
    return record["steps"] == steps and (settings is None or same_settings(record.get("settings"), settings))


def same_settings(recorded, settings: dict) -> bool:
    """JSON round-trips tuples as lists; compare through JSON."""
    return json.loads(json.dumps(recorded)) == json.loads(json.dumps(settings))


@contextlib.contextmanager
def run_lock(path: Path, wait: bool = True):
    """An exclusive lock on ``<run>.lock`` for as long as the run is checked or trained (POSIX flock).

    Yields whether it is held: with ``wait=False`` a run another process holds yields False at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, one process at a time
            yield True
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_one(experiment: Experiment, task: dict, arm: str, seed: int, device: str, out: Path, path: Path,
              progress: bool) -> None:
    """Train one (arm, seed) from its saved state, if any; write its JSON (and weights, if kept)."""
    start, cpu_start = time.time(), time.process_time()
    state = out / ".state" / experiment.name / f"{arm}-seed{seed}.pt"
    model = experiment.make_model(arm, seed, experiment.settings)
    history = train_arm(experiment, task, arm, seed, device, state, progress=progress, model=model)
    record = {"experiment": experiment.name, "arm": arm, "seed": seed, "device": device,
              "steps": experiment.budget(device), "settings": experiment.settings,
              "memory_format": "channels_last" if toy.toy_channels_last(task["train_degraded"], device) else "nchw",
              "final": final_metric(history, experiment.metric), "metric": experiment.metric,
              "finals": {k: float(v) for k, v in history[-1].items() if k.startswith("test_")},
              "convergence": convergence(history, experiment.metric), "seconds": time.time() - start,
              "cpu_seconds": time.process_time() - cpu_start,  # this process's CPU time (resumed runs: since resuming)
              "commit": git_commit(), "curve": [{"step": h["step"], experiment.metric: h[experiment.metric]}
                                                for h in history]}
    if experiment.keep_weights:
        record["weights"] = save_weights(model, path.with_suffix(".safetensors"))
    write_json(path, record)
    state.unlink(missing_ok=True)
    print(f"{experiment.name}: {arm} seed {seed} done in {time.time() - start:.0f} s", flush=True)


def save_weights(model, path: Path) -> dict:
    """The final weights as safetensors; returns the file name, its size and its sha256."""
    from safetensors.torch import save

    files.write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}))
    return {"file": path.name, "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def collect_runs(experiment: Experiment, out: Path) -> tuple[dict, list[str]]:
    """Every finished run of ``experiment`` (and of the arms it shares) that has the experiment's settings.

    Returns ``({arm: {seed: record}}, [skipped run files])``: a run trained with other settings (another
    network, another task) is never mixed into the comparison.
    """
    runs, skipped = {}, []
    sources = [(experiment.name, arm, arm) for arm in experiment.arms if arm not in experiment.shared]
    sources += [(owner, owner_arm, arm) for arm, (owner, owner_arm) in experiment.shared.items()]
    for owner, owner_arm, arm in sources:
        settings = experiment.settings if owner == experiment.name else EXPERIMENTS[owner].settings
        for path in sorted((out / "runs" / owner).glob(f"{owner_arm}-seed*.json")):
            data = json.loads(path.read_text())
            if data["arm"] != owner_arm:
                continue  # e.g. "stride_2" must not pick up "stride_2x"
            if not same_settings(data.get("settings"), settings):
                skipped.append(str(path.relative_to(out)))
                continue
            shared = {"shared_from": f"{owner}/{owner_arm}"} if owner != experiment.name else {}
            if shared and not belongs(experiment, EXPERIMENTS[owner], data["seed"]):
                continue
            runs.setdefault(arm, {})[data["seed"]] = {**data, **shared}
    return runs, skipped


def belongs(experiment: Experiment, owner: Experiment, seed: int) -> bool:
    """Whether the owner's run of ``seed`` is one of ``experiment``'s: never the owner's pilot, and within the
    experiment's planned seeds when it has a plan (table7_pool reads fig5_pool's seeds 0-7, not 8-11)."""
    if seed in owner.pilot_seeds and seed not in experiment.pilot_seeds:
        return False
    return not experiment.planned_seeds or seed in experiment.pilot_seeds or seed in experiment.confirmatory_seeds


def compare(experiment: Experiment, runs: dict) -> dict:
    """The paired comparisons (arm - control, seed by seed) with their 95 % CIs, plain words, and the drift of
    the difference over the last 20 % of steps (:func:`drift`)."""
    comparisons = {}
    for arm, control in experiment.comparisons():
        by_seed, base = runs.get(arm, {}), runs.get(control, {})
        seeds = sorted(set(by_seed) & set(base))
        ci = paired_ci([by_seed[s]["final"] for s in seeds], [base[s]["final"] for s in seeds])
        moved = drift(by_seed, base, seeds, experiment.metric)
        comparisons[f"{arm}_minus_{control}"] = {
            **ci, "seeds": seeds, "expected_sign": experiment.expected,
            **({"drift": moved} if moved is not None else {}),
            "text": verdict(ci, experiment.expected, name=f"{arm} - {control} ({experiment.metric})")}
    return comparisons


def ladder(experiment: Experiment, runs: dict, comparisons: dict) -> dict:
    """rung -> {ratio, mean, low, high, n}: ratio = mean linear / mean nonlinear final test MSE; mean, low and
    high are the paired difference and its 95 % CI in the experiment's metric (MSE: linear - nonlinear;
    PSNR: nonlinear - linear, dB)."""
    rungs = {}
    for key, c in comparisons.items():
        arm, control = key.split("_minus_")
        rung = arm.split(".")[0]
        mse = {kind: [r.get("finals", {}).get("test_mse", math.nan) for s, r in sorted(runs.get(f"{rung}.{kind}", {}).items())
                      if s in c["seeds"]] for kind in ("linear", "nonlinear")}
        ratio = float(np.mean(mse["linear"]) / np.mean(mse["nonlinear"])) if c["seeds"] else math.nan
        rungs[rung] = {"ratio": ratio, "mean": c["mean"], "low": c["low"], "high": c["high"], "n": c["n"]}
    return rungs


def summarise(experiment: Experiment, out: Path, device: str = "cpu") -> dict:
    """Collect every finished run of ``experiment`` into ``<name>.json`` with paired CIs against the control."""
    runs, skipped = collect_runs(experiment, out)
    pilot = {arm: {s: r for s, r in by_seed.items() if s in experiment.pilot_seeds} for arm, by_seed in runs.items()}
    runs = {arm: {s: r for s, r in by_seed.items() if s not in experiment.pilot_seeds} for arm, by_seed in runs.items()}
    runs = {arm: by_seed for arm, by_seed in runs.items() if by_seed}
    comparisons = compare(experiment, runs)
    own = [r for by_seed in runs.values() for r in by_seed.values() if "shared_from" not in r]  # trained here
    seconds = sum(r["seconds"] for r in own)
    cpu = [r["cpu_seconds"] for r in own if "cpu_seconds" in r]
    summary = {
        "experiment": experiment.name, "description": experiment.description, "notebook": experiment.notebook,
        "metric": experiment.metric, "control": experiment.control, "arms": list(experiment.arms),
        "settings": experiment.settings, "steps": experiment.budget(device),
        "command": f"python -m exda_lite.reference run {experiment.name} --seeds "
                   + " ".join(str(s) for s in sorted({s for r in runs.values() for s in r})),
        "commit": git_commit(), "environment": environment(device), "train_seconds": round(seconds, 1),
        **({"cpu_seconds": round(sum(cpu), 1), "runs_with_cpu_seconds": len(cpu)} if cpu else {}),
        "convergence_rule": CONVERGENCE[experiment.metric][2],
        "runs": {arm: {str(s): {"final": r["final"], "converged": r["convergence"]["converged"],
                                "change": r["convergence"]["change"], "steps": r["steps"], "curve": r["curve"],
                                **({"finals": r["finals"]} if "finals" in r else {}),
                                **({"weights": r["weights"]} if "weights" in r else {}),
                                **({"shared_from": r["shared_from"]} if "shared_from" in r else {})}
                       for s, r in sorted(by_seed.items())} for arm, by_seed in runs.items()},
        "comparisons": comparisons,
    }
    if experiment.describe_task is not None:
        summary["data"] = experiment.describe_task(experiment.settings)
    if (labelled := per_degradation(experiment, runs, out)) is not None:
        summary["per_degradation"] = labelled
    if experiment.decide is not None and runs:  # the pre-registered rule, on the confirmatory seeds only
        summary["decision"] = experiment.decide(comparisons, experiment.planned_seeds)
    if experiment.analyse is not None and any("weights" in r for by_seed in runs.values() for r in by_seed.values()):
        summary.update(experiment.analyse(experiment, runs, out, experiment.make_task(experiment.settings)))
    if experiment.pairs and all("." in arm for arm in experiment.arms):
        summary["rungs"] = ladder(experiment, runs, comparisons)
    if any(pilot.values()):  # reported, never pooled with the confirmatory seeds (PREREGISTRATION.md)
        labelled = per_degradation(experiment, pilot, out)
        summary["pilot"] = {**({"per_degradation": labelled} if labelled is not None else {}),
                            "seeds": sorted({s for by_seed in pilot.values() for s in by_seed}),
                            "comparisons": compare(experiment, pilot),
                            **({"power": power_table(compare(experiment, pilot), POWER_HALFWIDTH_DB)}
                               if experiment.metric == "test_psnr" else {}),
                            "finals": {arm: {str(s): r["final"] for s, r in sorted(by_seed.items())}
                                       for arm, by_seed in pilot.items() if by_seed}}
    if skipped:
        summary["skipped_runs"] = {"why": "trained with other settings than the experiment's", "files": skipped}
    write_json(out / f"{experiment.name}.json", summary)
    return summary


def parser():
    import argparse

    parser = argparse.ArgumentParser(prog="python -m exda_lite.reference",
                                     description="Run or list the reference experiments.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the missing runs of some experiments and summarise them")
    run.add_argument("names", nargs="*", help=f"experiments (default: every one not superseded: {', '.join(default_names())})")
    run.add_argument("--seeds", type=int, nargs="+", default=None,
                     help="default: each experiment's own protocol (pilot seeds, then confirmatory 0 ... n-1; else 0-4)")
    run.add_argument("--device", default="cpu")
    run.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    run.add_argument("--out", default=str(default_out()))
    run.add_argument("--arms", nargs="+", default=None,
                     help="train only these arms (e.g. to rerun one seed of one arm into another --out and compare)")
    run.add_argument("--no-progress", action="store_true")
    sub.add_parser("list", help="the experiments and what each compares")
    demo = sub.add_parser("demo-weights", help="train exda_nano on the demo set and install it in exda_lite/weights")
    demo.add_argument("--max-steps", type=int, default=3000)
    demo.add_argument("--device", default="cpu")
    demo.add_argument("--threads", type=int, default=0)
    demo.add_argument("--install-only", action="store_true", help="install the latest checkpoint of an unfinished run")
    board = sub.add_parser("scoreboard", help="every measured figure beside the paper; writes SCOREBOARD.md")
    board.add_argument("--reference", default=str(default_out()), help="the reference folder")
    board.add_argument("--out-dir", default="", help="a folder of notebook results (OUT_DIR) to include")
    conv = sub.add_parser("convergence", help="which way the runs that missed the convergence rule were moving")
    conv.add_argument("--reference", default=str(default_out()), help="the reference folder")
    conv.add_argument("--ema-probe", action="store_true", help="also retrain the EMA-lag probe (~10 CPU-minutes)")
    conv.add_argument("--gap-probe", action="store_true", help="also retrain the train/test-gap probe (~25 CPU-min)")
    conv.add_argument("--photo-probe", action="store_true", help="also re-score gst_mechanism on new test photos")
    return parser


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "demo-weights":
        from .demo_weights import train_demo_weights

        if args.threads:
            torch.set_num_threads(args.threads)
        manifest = train_demo_weights(args.max_steps, args.device, install_only=args.install_only)
        print(json.dumps({k: v for k, v in manifest.items() if k != "val_psnr"}, indent=1))
        return 0
    if args.command == "scoreboard":
        from .scoreboard import main as scoreboard

        scoreboard(args.reference, args.out_dir or None)
        return 0
    if args.command == "convergence":
        from .convergence import main as convergence

        return convergence(Path(args.reference), args.ema_probe, args.gap_probe, args.photo_probe)
    if args.command == "list":
        from .awareness import ANALYSES as ANALYSIS_TABLE

        from .awareness import SUPERSEDED as SUPERSEDED_ANALYSES

        for name, e in EXPERIMENTS.items():
            pilot = f"pilot seeds {' '.join(map(str, e.pilot_seeds))}, then " if e.pilot_seeds else ""
            seeds = f"{pilot}seeds {e.confirmatory_seeds[0]}-{e.confirmatory_seeds[-1]}"
            status = (f"; SUPERSEDED by {e.superseded_by}, not in the default run" if e.superseded_by else "")
            print(f"{name:16s} {e.description} [{', '.join(e.arms)}; {e.steps} steps on CPU; {seeds}{status}]")
        for name, (source, description) in ANALYSIS_TABLE.items():
            status = f"; SUPERSEDED by {SUPERSEDED_ANALYSES[name]}" if name in SUPERSEDED_ANALYSES else ""
            print(f"{name:16s} {description} [no training of its own: reads {source}'s weights{status}]")
        return 0
    names = list(EXPERIMENTS) + list(ANALYSES)
    default = default_names()
    unknown = [n for n in args.names if n not in names]
    if unknown:
        print(f"error: unknown experiment(s) {unknown}; choose from {names}", file=sys.stderr)
        return 2
    wrong_arms = sorted(set(args.arms or ()) - {a for n in args.names if n in EXPERIMENTS for a in EXPERIMENTS[n].arms})
    if wrong_arms:
        print(f"error: no experiment named here has the arm(s) {wrong_arms}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.names or default:
        if name in ANALYSES:  # no training of its own: it reads the weights its source's runs keep
            from .awareness import ANALYSES as ANALYSIS_TABLE, analyse

            source = EXPERIMENTS[ANALYSIS_TABLE[name][0]]
            seeds = args.seeds or source.confirmatory_seeds  # an analysis never reads a pilot's models
            run_experiment(source, seeds, args.device, Path(args.out), progress=not args.no_progress)
            summary = analyse(Path(args.out), seeds=set(seeds), name=name)
        else:
            summary = run_experiment(EXPERIMENTS[name], args.seeds or EXPERIMENTS[name].default_seeds, args.device,
                                     Path(args.out), progress=not args.no_progress, arms=args.arms)
        for comparison in summary["comparisons"].values():
            print(comparison["text"])
    return 0


def default_names() -> list[str]:
    """What ``run`` without names does: every experiment and analysis that no newer one has superseded, in
    registry order (an owner of shared runs comes before the experiments that read them)."""
    from .display import superseded_names

    return [n for n in [*EXPERIMENTS, *ANALYSES] if n not in superseded_names()]


def entry(argv=None) -> int:
    """``python -m exda_lite.reference``: :func:`main`, with a stop by signal or a full disk as one line.

    SIGTERM/SIGINT during a run: its state is saved at the current step, exit code ``EXIT_PREEMPTED``
    (75); a full disk: exit code 2. Either way finished runs are kept; rerun the same command.
    """
    try:
        return main(argv)
    except Preempted as stop:
        print(f"python -m exda_lite.reference: {stop}", file=sys.stderr)
        return EXIT_PREEMPTED
    except Exception as error:  # only a full disk becomes one line; anything else keeps its traceback
        line = files.full_disk_message(error, "finished runs are kept, an unfinished one continues from its "
                                       "last saved state", "free space and rerun the same command")
        if line is None:
            raise
        print(f"python -m exda_lite.reference: error: {line}", file=sys.stderr)
        return 2


def default_out() -> Path:
    from .display import reference_dir

    return reference_dir()
