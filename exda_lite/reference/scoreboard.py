"""The reproduction scoreboard: every measured figure of the course beside the paper's claim.

``python -m exda_lite.reference scoreboard [--out-dir OUTPUTS]`` (or ``make scoreboard``) prints one
row per claim -- what the paper says, what we measured, the verdict, and the command that
regenerates it -- and writes ``reference/SCOREBOARD.md``. Rows come from three places: cheap exact
measurements made on the spot (linearity, model sizes), the committed reference runs,
and, optionally, a folder of notebook results (their OUT_DIR JSON).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from .. import files
from .display import arm_stats, load_reference, reference_dir

VERDICTS = ("reproduces", "smaller", "larger", "opposite", "not distinguishable", "not testable on CPU",
            "not yet run")


@dataclass
class Row:
    claim: str
    where: str
    paper: str
    ours: str
    verdict: str
    command: str
    p: float = math.nan  # paired t-test, two-sided
    p_holm: float = math.nan  # Holm-adjusted across every reference comparison of the scoreboard


def exact_rows() -> list[Row]:
    """Claims checked exactly, in seconds: Eq. 6-10 by superposition, the sizes of Table A."""
    from ..course.span import linearity_table
    from ..nn.configs import PAPER_SIZES
    from ..nn.model import build_model

    table = linearity_table(seed=0)
    cmd_lin = "python -c 'from exda_lite.course.span import linearity_table as t; print(t())'"
    rows = [
        Row("output linear in X for a fixed A, linear values", "App. C, Eq. 6-7", "exactly linear",
            f"superposition r = {table['linear_values']['superposition']:.1e}", "reproduces", cmd_lin),
        Row("V + g(V) with GELU makes the output nonlinear", "Sec. 3.2, Eq. 8-10", "nonlinear",
            f"r = {table['gelu_g']['superposition']:.1e} (linear g: {table['linear_g']['superposition']:.1e})",
            "reproduces", cmd_lin),
        Row("post-aggregation nonlinearity 'cannot escape' the limitation", "Sec. 3.1", "confined (linear)",
            f"r = {table['post_aggregation']['superposition']:.1e}: as nonlinear as pre", "opposite", cmd_lin),
    ]
    for name, label in (("restormer", "Restormer (official count)"), ("exda_b", "ExDA-B"), ("exda_s", "ExDA-S"),
                        ("exda_t", "ExDA-T")):
        ours = sum(p.numel() for p in build_model(name).parameters())
        paper = PAPER_SIZES[name][0]
        rel = ours / paper - 1
        verdict = "reproduces" if abs(rel) < 0.01 else ("larger" if rel > 0 else "smaller")
        rows.append(Row(f"{label} parameters", "Table A" if name != "restormer" else "Restormer",
                        f"{paper / 1e6:.2f} M", f"{ours / 1e6:.2f} M ({100 * rel:+.1f} %)", verdict,
                        f"python -c 'import exda_lite as E; print(E.count_parameters(E.build_model(\"{name}\")))'"))
    return rows


def reference_rows(folder: Path) -> list[Row]:
    """One row per paired comparison of the committed reference runs (or 'not yet run').

    The verdicts use Holm-adjusted p-values across all these comparisons (a family of ~40 tests): a
    comparison "reproduces" only if it survives the correction, not merely if its own 95 % CI excludes zero."""
    from .experiments import EXPERIMENTS
    from .paper import PAPER
    from .stats import holm

    found, rows = [], []
    for name in current_names():
        reference = load_reference(name, folder)
        command = f"python -m exda_lite.reference run {name}"
        for key in [k.split(".", 1)[1] for k in PAPER if k.startswith(name + ".")]:
            entry = PAPER[f"{name}.{key}"]
            if reference is None or key not in reference["comparisons"] or not reference["comparisons"][key]["n"]:
                pilot = reference is not None and "pilot" in reference  # a pilot sizes the runs, gives no verdict
                rows.append(Row(entry["claim"], entry["where"], entry["text"],
                                "pilot only (reference/README.md)" if pilot else "-", "not yet run", command))
                continue
            found.append((len(rows), reference, key, entry))
            rows.append(None)
    adjusted = holm([reference["comparisons"][key]["p"] for _, reference, key, _ in found])
    for (index, reference, key, entry), p_holm in zip(found, adjusted):
        rows[index] = comparison_row(reference, key, entry, p_holm)
    return rows


def current_names() -> list[str]:
    """The experiments and analyses the scoreboard judges: every one no newer design has superseded (as ``run``)."""
    from .awareness import ANALYSES
    from .display import superseded_names
    from .experiments import EXPERIMENTS

    return [n for n in [*EXPERIMENTS, *ANALYSES] if n not in superseded_names()]


def superseded(folder) -> list[str]:
    """One line per comparison of a superseded reference: kept for the record, outside the Holm family."""
    from .display import superseded_names

    lines = []
    for name, successor in superseded_names().items():
        reference = load_reference(name, Path(folder or reference_dir()))
        if reference is None:
            continue
        for key, c in reference["comparisons"].items():
            if not c.get("n"):
                continue
            half = (c["high"] - c["low"]) / 2
            lines.append(f"- `{name}` {key}: {c['mean']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] "
                         f"(n = {c['n']}, half-width ±{half:.2f}); superseded by `{successor}`")
    return lines


def comparison_row(reference: dict, key: str, entry: dict, p_holm: float) -> Row:
    c, stats = reference["comparisons"][key], arm_stats(reference)
    arm, control = key.split("_minus_")
    if entry["kind"] == "ratio":
        value = stats[arm]["mean"] / stats[control]["mean"]
        ours = f"{value:.3f}x (diff {c['mean']:+.2e}, 95 % CI [{c['low']:+.1e}, {c['high']:+.1e}], n={c['n']})"
    else:
        value = c["mean"]
        ours = f"{value:+.3f} {entry.get('unit', 'dB')} (95 % CI [{c['low']:+.3f}, {c['high']:+.3f}], n={c['n']})"
    converged = sum(s["converged"] for s in stats.values()), sum(s["n"] for s in stats.values())
    ours += f"; {converged[0]}/{converged[1]} runs converged"
    return Row(entry["claim"], entry["where"], entry["text"], ours,
               judge(c, entry["value"], value, entry["kind"], p_holm), reference["command"], c["p"], p_holm)


def judge(c: dict, paper_value, value: float, kind: str, p_holm: float | None = None) -> str:
    """reproduces / smaller / opposite / not distinguishable, from the paired CI (and, if given, the
    Holm-adjusted p-value, which must be < 0.05) and the paper's size."""
    if not math.isfinite(c["low"]):
        return "not distinguishable"
    if c["low"] <= 0 <= c["high"] or (p_holm is not None and not p_holm < 0.05):
        return "not distinguishable"
    agrees = (c["mean"] > 0) == (c.get("expected_sign", 1) > 0)
    if not agrees:
        return "opposite"
    if paper_value is None:
        return "reproduces"
    size = value if kind == "difference" else value - 1
    target = paper_value if kind == "difference" else paper_value - 1
    return "reproduces" if abs(size) >= 0.5 * abs(target) else "smaller"


def gpu_rows() -> list[Row]:
    from ..training.evaluate import PAPER_EXDA, PAPER_TABLE

    rows = [Row(f"ExDA-B on {setting} (average PSNR / SSIM)", f"Table {PAPER_TABLE[setting]}",
                "{:.2f} dB / {:.3f}".format(*PAPER_EXDA[setting]["Average"]), "-", "not testable on CPU",
                f"exda-lite train --setting {setting} (GPU), then exda-lite eval")
            for setting in PAPER_EXDA if "Average" in PAPER_EXDA[setting]]
    return rows + [
        Row("ExDA-T training memory at batch 32", "App. A.2", "42 GB", "-", "not testable on CPU", "make gpu-check"),
    ]


def notebook_rows(out_dir: Path) -> list[Row]:
    """Rows from a folder of notebook results (the live teaching runs), if given."""
    rows = []
    nb08 = out_dir / "08_degradation_awareness.json"
    if nb08.is_file():
        data = json.loads(nb08.read_text())
        nmi = data.get("nmi_with_gst_mean") or data.get("nmi", {})
        rows.append(Row("GST makes embeddings cluster by degradation (NMI)", "Sec. 4, Fig. 7", "0.71 -> 0.88",
                        f"{nmi}" if nmi else "see notebook 08 output", "not yet run",
                        "papermill notebooks/08_degradation_awareness.ipynb out.ipynb"))
    return rows


def build(folder=None, out_dir=None) -> list[Row]:
    folder = Path(folder or reference_dir())
    rows = exact_rows() + reference_rows(folder) + gpu_rows()
    if out_dir:
        rows += notebook_rows(Path(out_dir))
    return rows


def preregistered(folder) -> list[str]:
    """One line per pre-registered experiment: the outcome its own decision rule gives (Holm within it)."""
    from .experiments import EXPERIMENTS

    lines = []
    for name in current_names():
        reference = load_reference(name, Path(folder or reference_dir()))
        if reference is not None and "decision" in reference:
            d = reference["decision"]
            lines.append(f"- `{name}` ({d['rule']}, {d['status']}): **{d['outcome']}**")
    return lines


def markdown(rows: list[Row], outcomes: list[str] = (), old: list[str] = ()) -> str:
    lines = ["# Reproduction scoreboard", "",
             "Generated by `python -m exda_lite.reference scoreboard` (`make scoreboard`) from `reference/` and exact "
             "measurements; verdicts: " + ", ".join(VERDICTS) + ".", "",
             "Reference comparisons are judged after a Holm correction across all of them (column p Holm): a "
             "comparison counts only if its adjusted p-value is below 0.05 and its 95 % CI excludes zero.", "",
             "| claim | where | paper | ours | p (Holm) | verdict | regenerate |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        p = f"{r.p_holm:.2g}" if math.isfinite(r.p_holm) else "-"
        lines.append(f"| {r.claim} | {r.where} | {r.paper} | {r.ours} | {p} | **{r.verdict}** | `{r.command}` |")
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    lines += ["", "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n), ""]
    if outcomes:
        lines += ["## Pre-registered outcomes", "",
                  "Each experiment's own decision rule, applied mechanically to its confirmatory seeds (Holm across "
                  "its own comparisons; the table above corrects across all rows, so the two can differ):", "",
                  *outcomes, ""]
    if old:
        lines += ["## Superseded references (first design; not judged)", "",
                  "The first restoration references trained a 16-channel network on 240 fixed patches; their paired "
                  "intervals are too wide to detect the paper's 0.1-0.5 dB effects. Each was replaced by a powered, "
                  "pre-registered design (the `_pool` rows above). Their comparisons are listed for the record, "
                  "outside the Holm family and without a verdict:", "", *old, ""]
    return "\n".join(lines)


def main(folder=None, out_dir=None, write: bool = True) -> list[Row]:
    rows = build(folder, out_dir)
    width = max(len(r.claim) for r in rows)
    for r in rows:
        print(f"{r.claim:{width}s} | {r.paper:28s} | {r.ours:60s} | {r.verdict}")
    if write:
        path = Path(folder or reference_dir()) / "SCOREBOARD.md"
        files.write_text(path, markdown(rows, preregistered(folder), superseded(folder)))
        print(f"wrote {path}")
    return rows
