"""Notebook 08's tables, figures and generated text, built on the measurements of :mod:`.awareness`.

* :func:`show_embedding_set`   the crops that are embedded, one row per degradation
* :func:`restoration_table`    did the twins learn to restore? PSNR gain per degradation
* :func:`embedding_rows`       every embedding that gets a row in the score table (baselines included)
* :func:`score_table`          NMI, ARI (with their resampling spread), linear probe, NMI vs photo
* :func:`paper_comparison`     the paper's NMI/ARI beside ours (mean and std over seeds)
* :func:`verdict`              the with/without-GST verdict, per seed, from the numbers
* :func:`projection_figure`    Fig. 7 at small scale: t-SNE (and UMAP) of the first seed's pair
* :func:`token_use`            GST's alpha and the channel -> token attention share, per seed
* :func:`why_lines`            the four things to weigh, with this run's numbers
* :func:`balanced_sampling`    balanced vs the paper's class proportions, over random draws
* :func:`gst_maps_figure`      Fig. 8 at small scale: the maps of each token on six degradations
* :func:`spectral_table`, :func:`spectral_figure`, :func:`spectral_claims`: energy per frequency band
"""

from __future__ import annotations

import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..data.augment import to_tensor
from ..data.degradations import degrade
from ..data.demo_data import demo_photo
from ..nn.attention import ExDAAttention
from ..training.metrics import psnr
from ..paper import FIG7
from . import awareness

PAPER = FIG7  # Fig. 7 (exda_lite.paper)


def show_embedding_set(data: dict, shown: int = 6):
    """The first ``shown`` crops of each degradation, one row per degradation."""
    names, labels, images = data["names"], data["labels"], data["images"]
    fig, axes = plt.subplots(len(names), shown, figsize=(1.5 * shown, 1.5 * len(names)), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]); ax.set_yticks([])
    for r, name in enumerate(names):
        for k, i in enumerate(np.flatnonzero(labels == r)[:shown]):
            axes[r, k].imshow(images[i].permute(1, 2, 0).clamp(0, 1).numpy())
        axes[r, 0].set_ylabel(name, fontsize=9)
    fig.suptitle("The embedding set: one row per degradation (the model never sees the row)", fontsize=10)
    fig.tight_layout()
    return fig


def restoration_table(reads: dict, runs: list[dict], data: dict) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """``(runs table, gain per degradation, input PSNR)``: each twin's PSNR on the embedded crops, and its gain."""
    names, labels = data["names"], data["labels"]
    input_psnr = psnr(data["images"], data["clean"])  # (N,)
    gains = {}
    for row in runs:
        restored = reads[row["GST"], row["seed"]]["psnr"]
        row["PSNR (dB)"] = restored.mean().item()
        gains[f"{'with' if row['GST'] else 'no'} GST, seed {row['seed']}"] = {
            name: (restored - input_psnr)[labels == k].mean().item() for k, name in enumerate(names)}
    return pd.DataFrame(runs).set_index(["seed", "GST"]).round(3), pd.DataFrame(gains).T, input_psnr.mean().item()


def embedding_rows(images: torch.Tensor, reads: dict, untrained_reads: dict, seeds) -> dict:
    """name -> (N, D) array: pixel statistics, the untrained twins, and per seed both twins and the token read-out."""
    rows = {"pixel statistics": awareness.pixel_statistics(images).numpy(),  # (N, 9)
            "untrained, no GST": untrained_reads[False]["pooled"].numpy(),  # (N, C)
            "untrained, with GST": untrained_reads[True]["pooled"].numpy()}
    for seed in seeds:
        rows[f"no GST, seed {seed}"] = reads[False, seed]["pooled"].numpy()
        rows[f"with GST, seed {seed}"] = reads[True, seed]["pooled"].numpy()
        rows[f"GST token read-out, seed {seed}"] = reads[True, seed]["tokens"].numpy()  # (N, h*K*C)
    return rows


def score_row(embedding, labels, photos=None, seed: int = 0) -> dict:
    s = awareness.cluster_scores(embedding, labels, seed=seed)
    spread = awareness.resampled_scores(embedding, labels, seed=seed)
    row = {"dims": embedding.shape[1], "NMI": s["nmi"], "NMI ±": spread["nmi_std"], "ARI": s["ari"],
           "ARI ±": spread["ari_std"], "probe acc.": awareness.probe_accuracy(embedding, labels, seed=seed)}
    if photos is not None:
        row["NMI vs photo"] = awareness.cluster_scores(embedding, photos, seed=seed)["nmi"]
    return row


def score_table(embeddings: dict, data: dict, seed: int = 0) -> pd.DataFrame:
    """One row per embedding: NMI, ARI, their spread over subsamples, the probe's accuracy, NMI against the photo."""
    photos = data.get("photos")
    scores = pd.DataFrame({name: score_row(e, data["labels"], photos, seed) for name, e in embeddings.items()}).T
    scores["dims"] = scores["dims"].astype(int)
    return scores


def over_seeds(scores: pd.DataFrame, kind: str, column: str, seeds) -> tuple[float, float]:
    values = [scores.loc[f"{kind}, seed {s}", column] for s in seeds]
    return float(np.mean(values)), float(np.std(values))


def paper_comparison(scores: pd.DataFrame, seeds) -> tuple[dict, pd.DataFrame]:
    """``(measured, table)``: our NMI/ARI with and without GST (mean, std over seeds) beside the paper's."""
    measured = {f"{metric} {'with' if kind == 'with GST' else 'without'} GST": over_seeds(scores, kind, metric, seeds)
                for metric in ("NMI", "ARI") for kind in ("no GST", "with GST")}
    table = pd.DataFrame({"paper (Fig. 7, ExDA)": PAPER,
                          "ours: mean over seeds": {k: v[0] for k, v in measured.items()},
                          "ours: std over seeds": {k: v[1] for k, v in measured.items()}})
    return measured, table


def difference(scores: pd.DataFrame, metric: str, seed: int) -> tuple[float, float]:
    """(with - without GST, 2 x the combined resampling std) of one metric for one seed."""
    a, b = scores.loc[f"with GST, seed {seed}"], scores.loc[f"no GST, seed {seed}"]
    return a[metric] - b[metric], 2 * float(np.hypot(a[f"{metric} ±"], b[f"{metric} ±"]))


def describe(scores: pd.DataFrame, metric: str, seed: int) -> str:
    gain, noise = difference(scores, metric, seed)
    word = "better" if gain > noise else "worse" if gain < -noise else "no clear difference"
    return f"{metric} {gain:+.3f} (noise ±{noise:.3f}: {word})"


def verdict(scores: pd.DataFrame, measured: dict, seeds) -> dict:
    """The verdict in words and the numbers behind it (printed); a difference is clear beyond twice its noise."""
    gains = {m: [difference(scores, m, s)[0] for s in seeds] for m in ("NMI", "ARI")}
    consistent = all(g > n for s in seeds for g, n in (difference(scores, "NMI", s), difference(scores, "ARI", s)))
    per_seed = "; ".join(f"seed {s}: {describe(scores, 'NMI', s)}, {describe(scores, 'ARI', s)}" for s in seeds)
    if consistent and len(seeds) > 1:
        text = f"GST clearly improves clustering for every one of the {len(seeds)} seeds ({per_seed})."
    elif consistent:
        text = f"GST clearly improves clustering for this single seed ({per_seed}); one run is not evidence: -p SEEDS 3."
    else:
        text = f"GST does NOT improve clustering consistently at our scale ({per_seed})."
    best = max(scores.loc[f"{k}, seed {s}", "NMI"] for k in ("no GST", "with GST") for s in seeds)
    pixel, untrained = scores.loc["pixel statistics", "NMI"], scores.loc[["untrained, no GST", "untrained, with GST"], "NMI"]
    print(text)
    print(f"Means over seeds, without -> with GST: NMI {measured['NMI without GST'][0]:.3f} -> "
          f"{measured['NMI with GST'][0]:.3f}, ARI {measured['ARI without GST'][0]:.3f} -> "
          f"{measured['ARI with GST'][0]:.3f} (paper: NMI 0.71 -> 0.88, ARI 0.56 -> 0.89).")
    print(f"The best trained embedding reaches NMI {best:.3f}; 9 pixel statistics reach {pixel:.3f}, "
          f"untrained networks {untrained.iloc[0]:.3f} / {untrained.iloc[1]:.3f}.")
    return {"verdict": text, "consistent": bool(consistent), "gain_nmi": gains["NMI"], "gain_ari": gains["ARI"],
            "pixel_nmi": float(pixel), "best_trained_nmi": float(best)}


def projection_figure(embeddings: dict, scores: pd.DataFrame, data: dict, seeds, methods, seed: int = 0):
    """t-SNE (and UMAP) of the first seed's pair; returns ``(figure, seconds per projection)``."""
    names, labels = data["names"], data["labels"]
    pair = {f"without GST (seed {seeds[0]})": f"no GST, seed {seeds[0]}",
            f"with GST (seed {seeds[0]})": f"with GST, seed {seeds[0]}"}
    palette = sns.color_palette("tab10", len(names))
    seconds = {}
    fig, axes = plt.subplots(len(methods), 2, figsize=(10.5, 4.8 * len(methods)), squeeze=False)
    for r, method in enumerate(methods):
        for c, (title, key) in enumerate(pair.items()):
            start = time.time()
            xy = awareness.embed_2d(embeddings[key], method, seed=seed)
            seconds[f"{method}: {title}"] = round(time.time() - start, 1)
            for k, name in enumerate(names):
                axes[r, c].scatter(*xy[labels == k].T, s=9, color=palette[k], label=name, alpha=0.8)
            axes[r, c].set_title(f"{'t-SNE' if method == 'tsne' else 'UMAP'}, {title}\n"
                                 f"NMI {scores.loc[key, 'NMI']:.2f}, ARI {scores.loc[key, 'ARI']:.2f}", fontsize=10)
            axes[r, c].set_xticks([]); axes[r, c].set_yticks([])
    axes[0, 1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    fig.suptitle("Each dot is one degraded crop, coloured by its degradation (which the model never sees)", fontsize=11)
    fig.tight_layout()
    return fig, seconds


def gst_attentions(model) -> list[ExDAAttention]:
    return [m for m in model.modules() if isinstance(m, ExDAAttention) and m.gst is not None]


def token_use(models: dict, reads: dict, data: dict, seeds, decision: dict) -> tuple[pd.DataFrame, float]:
    """Per seed: GST's alpha (mean over layers), the channel -> token attention share (per degradation too),
    and the NMI/ARI gains; and the share uniform attention would give."""
    names, labels, rows = data["names"], data["labels"], []
    for i, seed in enumerate(seeds):
        share = reads[True, seed]["token_share"].numpy()  # (N,), first GST layer
        row = {"seed": seed, "alpha (mean over GST layers)": np.mean([m.alpha.item() for m in gst_attentions(models[True, seed])]),
               "alpha init": 0.1, "channel→token attention": share.mean()}
        row.update({f"… on {name}": share[labels == k].mean() for k, name in enumerate(names)})
        row.update({"NMI gain": decision["gain_nmi"][i], "ARI gain": decision["gain_ari"][i]})
        rows.append(row)
    layer = gst_attentions(models[True, seeds[0]])[0]
    c_head = layer.qkv.in_channels // layer.heads
    uniform = layer.gst.tokens / (c_head + layer.gst.tokens)
    print(f"uniform attention would put {uniform:.2f} on the tokens (K = {layer.gst.tokens}, C/h = {c_head})")
    return pd.DataFrame(rows).set_index("seed"), uniform


def why_lines(scores: pd.DataFrame, why: pd.DataFrame, uniform: float, decision: dict, seeds) -> list[str]:
    """Seed spread, baselines and use of the tokens, with this run's numbers."""
    no_gst = [scores.loc[f"no GST, seed {s}", "NMI"] for s in seeds]
    untrained = scores.loc[["untrained, no GST", "untrained, with GST"], "NMI"]
    return [
        f"1. seed spread: NMI of the no-GST model over seeds {min(no_gst):.3f}..{max(no_gst):.3f} (range "
        f"{max(no_gst) - min(no_gst):.3f}); GST's NMI gain per seed: {', '.join(f'{g:+.3f}' for g in decision['gain_nmi'])}",
        f"2. baselines: pixel statistics NMI {decision['pixel_nmi']:.3f}, untrained {untrained.iloc[0]:.3f} / "
        f"{untrained.iloc[1]:.3f}, best trained {decision['best_trained_nmi']:.3f}; linear probe "
        f"{scores.loc['pixel statistics', 'probe acc.']:.2f} (pixels) vs "
        f"{scores.loc[f'with GST, seed {seeds[0]}', 'probe acc.']:.2f} (with GST, seed {seeds[0]})",
        f"3. tokens: alpha {why['alpha (mean over GST layers)'].mean():.3f} (init 0.1), channel→token attention "
        f"{why['channel→token attention'].mean():.3f} (uniform {uniform:.3f})",
    ]


def balanced_sampling(embeddings: dict, data: dict, per_class: int, seeds, seed: int = 0, draws: int = 10,
                      small: int | None = None) -> pd.DataFrame:
    """NMI, ARI and the last class's recall on a balanced subsample vs one in the paper's proportions (68:...:15).

    ``small``: the size of the last class in the second design instead (e.g. 3; default: the paper's 15/68 of n).
    """
    names, labels = data["names"], data["labels"]
    n = max(2, int(0.8 * per_class))
    last = small if small is not None else max(2, round(n * 15 / 68))
    label = "paper's proportions (68:68:68:68:15)" if small is None else f"last class shrunk to {last} of {n}"
    designs = {"balanced": [n] * len(names), label: [n] * (len(names) - 1) + [last]}
    rows = []
    for design, counts in designs.items():
        for key in ("pixel statistics", f"no GST, seed {seeds[0]}", f"with GST, seed {seeds[0]}"):
            scores = []
            for draw in range(draws):
                idx = awareness.balanced_indices(labels, counts, seed=seed + draw)
                s = awareness.cluster_scores(embeddings[key][idx], labels[idx], seed=seed)
                scores.append((s["nmi"], s["ari"], awareness.majority_recall(labels[idx], s["clusters"])[-1]))
            nmi, ari, recall = np.mean(scores, axis=0)
            rows.append({"sample": design, "embedding": key, "images": sum(counts), "NMI": nmi, "ARI": ari,
                         f"{names[-1]} recall": recall})
    return pd.DataFrame(rows).set_index(["sample", "embedding"])


def gst_maps(model, cases, photo: str, side: int, layer: str, maps_layer: str, seed: int = 0):
    """``(images, relative maps)``: ``photo`` under each case, and head 0's G_compact x pixels (1 = uniform)."""
    clean = demo_photo(photo)[:side, :side]
    images = torch.stack([to_tensor(degrade(clean, case, rng=seed)) for case in cases])
    compact = awareness.readout(model, images, layer, gst=(maps_layer, 0))["compact"]
    return images, compact


def gst_maps_figure(images: torch.Tensor, compact: torch.Tensor, cases, title: str):
    """One column per case: the image, then each token's map on one colour scale centred on 1 (uniform)."""
    relative = compact[:, 0] * compact.shape[-1] * compact.shape[-2]  # head 0: (cases, K, Hs, Ws)
    spread = max(float(np.percentile((relative - 1).abs().numpy(), 99)), 1e-3)
    tokens = relative.shape[1]
    fig, axes = plt.subplots(1 + tokens, len(cases), figsize=(2.0 * len(cases), 2.0 * (1 + tokens)), squeeze=False)
    for c, case in enumerate(cases):
        axes[0, c].imshow(images[c].permute(1, 2, 0).clamp(0, 1).numpy())
        axes[0, c].set_title(case + (" (mixed, unseen)" if case == "low_haze_snow" else ""), fontsize=9)
        for t in range(tokens):
            shown = axes[1 + t, c].imshow(relative[c, t], cmap="RdBu_r", vmin=1 - spread, vmax=1 + spread,
                                          interpolation="bilinear")
            axes[1 + t, 0].set_ylabel(f"token {t}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([]); ax.set_yticks([])
    fig.colorbar(shown, ax=axes[1:, :].ravel().tolist(), fraction=0.02, label="weight relative to uniform (1)")
    fig.suptitle(title, fontsize=11)
    return fig


def map_entropy(compact: torch.Tensor, cases) -> dict:
    """Normalised entropy of head 0's maps per case, mean over tokens (1 = uniform, lower = more focused)."""
    p = compact[:, 0].flatten(2)  # (cases, K, Hs*Ws), each row sums to 1
    entropy = (-(p * torch.log(p + 1e-12)).sum(-1) / np.log(p.shape[-1])).mean(1)
    return {case: round(float(e), 3) for case, e in zip(cases, entropy)}


def spectral_table(data: dict, reads: dict, seed: int) -> pd.DataFrame:
    """% of energy per band and degradation: images (with a clean reference row), both twins' features, GST maps."""
    names, labels = data["names"], data["labels"]

    def per_degradation(fractions):  # (N, bands) -> % per degradation
        groups = pd.Series([names[k] for k in labels], name="degradation")
        return 100 * pd.DataFrame(fractions.numpy(), columns=awareness.BANDS).groupby(groups, sort=False).mean()

    table = pd.concat({
        "image": per_degradation(awareness.band_fractions(data["images"])),
        "features, no GST": per_degradation(reads[False, seed]["bands"]),
        "features, with GST": per_degradation(reads[True, seed]["bands"]),
        "GST maps": per_degradation(awareness.band_fractions(reads[True, seed]["compact"].flatten(1, 2))),
    }, axis=1)
    table.loc["clean (image only)"] = np.nan
    table.loc["clean (image only)", "image"] = 100 * awareness.band_fractions(data["clean"]).mean(0).numpy()
    return table


def spectral_figure(table: pd.DataFrame, seed: int):
    """The spectral table as an annotated heat map, one block of three bands per group."""
    fig, ax = plt.subplots(figsize=(12, 0.5 * len(table) + 2.0))
    sns.heatmap(table, annot=True, fmt=".0f", cmap="viridis", cbar_kws={"label": "% of the energy"}, ax=ax)
    ax.set_xticklabels([band for _, band in table.columns], rotation=0, fontsize=9)
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    ax.set_xlabel(""); ax.set_ylabel("")
    for g, group in enumerate(dict.fromkeys(group for group, _ in table.columns)):
        ax.text(3 * g + 1.5, -0.25, group, ha="center", va="bottom", fontsize=10, fontweight="bold")
        if g:
            ax.axvline(3 * g, color="white", lw=3)
    ax.set_title(f"Share of energy per frequency band (seed {seed} models), mean over the images of each row", pad=26)
    fig.tight_layout()
    return fig


def spectral_claims(table: pd.DataFrame, names) -> dict:
    """The paper's two spectral statements tested on the GST maps; prints the numbers; returns claim -> holds."""
    def find(*keys):
        return next((name for name in names if any(key in name for key in keys)), None)

    noise, blur, haze = find("noise", "BSD68"), find("blur", "GoPro"), find("haze", "SOTS")
    bands, claims = table["GST maps"], {}
    if noise and blur:
        claims["noise maps carry more high-frequency energy than blur maps"] = bool(bands.loc[noise, "high"] > bands.loc[blur, "high"])
        print(f"GST maps, high band: {noise} {bands.loc[noise, 'high']:.1f} % vs {blur} {bands.loc[blur, 'high']:.1f} %")
    if haze:
        most_low = bands.dropna()["low"].idxmax()
        claims["haze maps are the most low-frequency of all degradations"] = bool(most_low == haze)
        print(f"GST maps, low band: {haze} {bands.loc[haze, 'low']:.1f} %; the most low-frequency maps: {most_low} "
              f"({bands.loc[most_low, 'low']:.1f} %)")
    for claim, holds in claims.items():
        print(("holds:        " if holds else "does NOT hold: ") + claim)
    return claims


def table_dict(frame: pd.DataFrame) -> dict:
    return json.loads(frame.to_json(orient="index"))


def results(study, ns: dict) -> dict:
    """``OUT_DIR/08_degradation_awareness.json`` from the notebook's variables ``ns`` (its globals(), read by name)."""
    from .notebook import smoke_mode

    scores, seeds, measured, decision, spectral = ns["scores"], ns["seeds"], ns["measured"], ns["decision"], ns["spectral"]
    per_seed = {f"{m.lower()}_{'with' if k == 'with GST' else 'without'}_gst_per_seed":
                [scores.loc[f"{k}, seed {s}", m] for s in seeds] for m in ("NMI", "ARI") for k in ("with GST", "no GST")}
    return {
        "nmi_with_gst": measured["NMI with GST"][0], "nmi_without_gst": measured["NMI without GST"][0],
        "ari_with_gst": measured["ARI with GST"][0], "ari_without_gst": measured["ARI without GST"][0], **per_seed,
        "gst_improves_consistently": decision["consistent"], "verdict": decision["verdict"],
        "paper": PAPER, "scores": table_dict(scores), "baselines": {
            "pixel_statistics_nmi": decision["pixel_nmi"], "untrained_no_gst_nmi": scores.loc["untrained, no GST", "NMI"],
            "untrained_with_gst_nmi": scores.loc["untrained, with GST", "NMI"]},
        "foundation_model": ns["foundation_note"]["name"], "foundation_model_note": ns["foundation_note"]["why_not"],
        "token_use": table_dict(ns["why"]), "uniform_token_share": ns["uniform_share"],
        "balanced_sampling": [{"sample": s, "embedding": e, **row} for (s, e), row in ns["balance"].to_dict("index").items()],
        "spectral_percent": {f"{a} | {b}": {row: v for row, v in col.items() if np.isfinite(v)}  # strict JSON: no NaN
                             for (a, b), col in spectral.to_dict().items()},
        "spectral_claims": ns["claims"], "gst_map_entropy": ns["entropy"],
        "runs": ns["runs"], "input_psnr": ns["input_psnr"], "psnr_gain_per_degradation": table_dict(ns["gains"]),
        "projection_seconds": ns["projection_seconds"], "umap_drawn": "umap" in ns["methods"],
        "scale": {"setting": study.p["SETTING"], "model": study.p["MODEL"], "embedding_layer": study.layer,
                  "seeds": seeds, "images_per_class": np.bincount(ns["labels"]).tolist(), "crop": study.p["CROP"],
                  "reused_notebook_07": study.base07 is not None, "steps": study.p["STEPS"], "patch": study.p["PATCH"],
                  "batch": study.p["BATCH_SIZE"]},
        "device": str(study.device), "torch_threads": torch.get_num_threads(), "smoke_mode": smoke_mode(),
        "parameters": study.p, "runtime_s": round(time.time() - study.started, 1),
        "reference": ns.get("reference_shown", {"shown": False}),  # the reference figures shown
    }
