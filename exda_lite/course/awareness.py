"""Degradation awareness: do a model's features know *which* degradation they see? (ExDA Sec. 4)

The paper's evidence that Global Spatial Tokens act as a "degradation-aware slot":

* Fig. 7: t-SNE and UMAP of embeddings of degraded test images, without and with GST, and k-means
  clusters scored against the true degradation types: NMI 0.71 -> 0.88, ARI 0.56 -> 0.89.
* The sampling: "we sampled 68 images for noise, blur, haze, and rain, and used all 15 samples for
  low-light" (:func:`balanced_indices`).
* Fig. 8 and Fig. B: GST maps across noise, blur, haze, rain, low light and a mixed case, and
  across strides (:func:`readout`).
* "Analyses with foundation model embeddings, spectral statistics, and separability measures"
  (:func:`find_foundation_model`, :func:`band_energy`, :func:`cluster_scores`).

The paper does not say which layer it embeds, how it pools, whether it standardises, or which
foundation model it uses. Our choices: global average pooling of one layer's output
(:func:`readout`), z-scored dimensions before k-means, and a locally cached torchvision
or DINOv2 model (never downloaded here).
"""

from __future__ import annotations


import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.preprocessing import StandardScaler
from torch import nn

from ..nn.attention import ExDAAttention
from ..data.augment import apply_patch, pad_to, patch_params, to_tensor
from ..data.degradations import degrade
from ..data.demo_data import TEST_PHOTOS, demo_photo
from ..nn.gst import GlobalSpatialTokens

BANDS = ("low", "mid", "high")
BAND_EDGES = (0.0, 0.25, 0.5)
"""Lower edges of the bands, in units of the Nyquist frequency (0.5 cycles/pixel) of the radial frequency."""


# ----------------------------------------------------------------------------- the embedding set

def degraded_crops(degradations, per_class: int, crop: int = 64, photos=TEST_PHOTOS, seed: int = 0) -> dict:
    """``per_class`` random crops of the held-out photos per degradation, each degraded with its own noise.

    Crop ``i`` of class ``c`` comes from photo ``i % len(photos)`` (so every class sees the photos
    equally often) at a random position; everything is drawn from ``default_rng([seed, c, i])``.

    Returns ``images`` (N, 3, crop, crop), ``clean`` (N, 3, crop, crop), ``labels`` (N,) the index
    in ``degradations``, ``photos`` (N,) the photo index, and ``names`` = the degradations.
    """
    images, clean, labels, photo_ids = [], [], [], []
    for c, name in enumerate(degradations):
        for i in range(per_class):
            rng = np.random.default_rng([seed, c, i])
            photo = demo_photo(photos[i % len(photos)])
            top, left, _ = patch_params(photo.shape, crop, rng)
            patch = apply_patch(photo, crop, top, left, 0)
            images.append(to_tensor(degrade(patch, name, rng=rng)))
            clean.append(to_tensor(patch))
            labels.append(c)
            photo_ids.append(i % len(photos))
    return {"images": torch.stack(images), "clean": torch.stack(clean), "labels": np.array(labels),
            "photos": np.array(photo_ids), "names": list(degradations)}


def benchmark_crops(setting: str, per_class: int, crop: int = 256, seed: int = 0, data_root=None) -> dict:
    """The paper's way: up to ``per_class`` test images of each benchmark of ``setting`` ("5deg", ...).

    A benchmark with fewer images is used whole (the paper: "all 15 samples for low-light").
    Images are centre-cropped to ``crop`` (reflect-padded if smaller) so that they batch.
    Returns the same dict as :func:`degraded_crops`; ``photos`` is the image index within its benchmark.
    """
    from ..training.evaluate import benchmark_indices, benchmarks

    images, clean, labels, photo_ids, names = [], [], [], [], []
    for c, bench in enumerate(benchmarks(setting)):
        dataset = bench.make(data_root)
        indices = benchmark_indices(bench, dataset)
        chosen = np.random.default_rng([seed, c]).permutation(len(indices))[:per_class]
        for j in sorted(chosen):
            degraded, target, _ = dataset[indices[j]]
            images.append(centre_crop(degraded, crop))
            clean.append(centre_crop(target, crop))
            labels.append(c)
            photo_ids.append(int(j))
        names.append(bench.column)
    return {"images": torch.stack(images), "clean": torch.stack(clean), "labels": np.array(labels),
            "photos": np.array(photo_ids), "names": names}


def centre_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) -> (C, size, size): the central square, reflect-padded first when the image is smaller."""
    array = pad_to(image.permute(1, 2, 0).numpy(), size)
    h, w = array.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return to_tensor(array[top:top + size, left:left + size])


def balanced_indices(labels, per_class, seed: int = 0) -> np.ndarray:
    """Indices of a subsample with at most ``per_class`` items of each class (sorted).

    ``per_class`` is one number for every class, or one number per class (e.g. the paper's
    ``[68, 68, 68, 68, 15]``). A class with fewer items keeps them all.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    counts = [per_class] * len(classes) if np.isscalar(per_class) else list(per_class)
    if len(counts) != len(classes):
        raise ValueError(f"per_class has {len(counts)} entries for {len(classes)} classes")
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:n] for c, n in zip(classes, counts)]
    return np.sort(np.concatenate(chosen))


# ----------------------------------------------------------------------------- embeddings

def global_average(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C): the mean of every feature map."""
    return features.mean(dim=(-2, -1))


def gst_layer(model: nn.Module, layer: str = "", index: int = -1) -> GlobalSpatialTokens:
    """The ``index``-th GST layer inside the submodule named ``layer`` ("" = the whole model)."""
    root = dict(model.named_modules())[layer] if layer else model
    found = [m for m in root.modules() if isinstance(m, GlobalSpatialTokens)]
    if not found:
        raise ValueError(f"no GST layer in {layer or 'the model'} (was it built without GST?)")
    return found[index]


def token_pooled(features: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """What each token "reads": the features averaged with the token's map as weights.

    A CLS token summarises an image by attention pooling; a GST map is such a weighting. For
    features (B, C, H, W) and maps (B, h, K, H, W): e[b, t, c] = sum_p G_t(p) X_c(p) / sum_p G_t(p),
    flattened to (B, h*K*C). Ours, as a "GST token embedding": the paper does not define one.
    """
    weights = maps.flatten(1, 2).flatten(2)  # (B, hK, HW)
    weights = weights / weights.sum(-1, keepdim=True)
    return torch.einsum("btn,bcn->btc", weights, features.flatten(2)).flatten(1)


@torch.no_grad()
def readout(model: nn.Module, images: torch.Tensor, layer: str, gst: tuple[str, int] | None = None,
            clean: torch.Tensor | None = None, batch_size: int = 32) -> dict[str, torch.Tensor]:
    """Everything the analysis needs from one pass of ``model`` over ``images`` (N, C, H, W).

    * ``pooled`` (N, C_l): the output of the submodule named ``layer`` ("body" of a TinyRestorer,
      "latent" of an ExDA U-Net, ...), averaged over space: our reading of Fig. 7's embedding.
    * ``bands`` (N, bands): :func:`band_fractions` of that output.
    * ``psnr`` (N,): of the restored images against ``clean``, when given.
    * with ``gst=(layer name, index)``, for the GST layer :func:`gst_layer` finds there:
      ``compact`` (N, h, K, H_s, W_s), its maps G_compact (Algorithm 1, steps 1-4), each summing to one;
      ``tokens`` (N, h*K*C): :func:`token_pooled` of its input with the upsampled maps G (step 5);
      ``token_share`` (N,): in the (C/h + K) x (C/h + K) attention map (Eq. 2), the weight the channel
      rows put on the K token columns, averaged over rows and heads.
    """
    from ..training.metrics import psnr

    modules = dict(model.named_modules())
    if layer not in modules:
        raise KeyError(f"the model has no layer {layer!r}; some of its layers: {[n for n in modules if n][:12]}")
    captured, parts = {}, {}
    hooks = [modules[layer].register_forward_hook(lambda module, args, output: captured.update(features=output))]
    if gst is not None:
        tokens_layer = gst_layer(model, *gst)
        attention = next(m for m in model.modules() if isinstance(m, ExDAAttention) and m.gst is tokens_layer)
        hooks.append(attention.register_forward_pre_hook(lambda module, args: captured.update(gst_input=args[0])))
    device = next(model.parameters()).device
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size].to(device)
            restored = model(batch)
            found = {"pooled": global_average(captured["features"]), "bands": band_fractions(captured["features"])}
            if clean is not None:
                found["psnr"] = psnr(restored.clamp(0, 1), clean[start:start + batch_size].to(device))
            if gst is not None:
                x = captured["gst_input"]  # (B, C, H, W): what the attention layer and its GST receive
                maps = tokens_layer(x).reshape(x.shape[0], tokens_layer.heads, tokens_layer.tokens, *x.shape[-2:])
                _, attn = attention(x, return_attention=True)  # (B, h, C/h + K, C/h + K)
                c_head = attn.shape[-1] - tokens_layer.tokens
                found.update(compact=tokens_layer.compact_maps(x), tokens=token_pooled(x, maps),
                             token_share=attn[:, :, :c_head, c_head:].sum(-1).mean(dim=(1, 2)))
            for key, value in found.items():
                parts.setdefault(key, []).append(value.float().cpu())
    finally:
        for hook in hooks:
            hook.remove()
    return {key: torch.cat(values) for key, values in parts.items()}


def pixel_statistics(images: torch.Tensor) -> torch.Tensor:
    """A hand-made baseline embedding: per-channel mean and std, and the log band energies of the luminance.

    (N, 3, H, W) -> (N, 9). If this already separates the degradations, clustering a network's
    features says little about the network.
    """
    mean, std = images.mean(dim=(-2, -1)), images.std(dim=(-2, -1))
    energy = band_energy(images.mean(1))  # (N, 3)
    return torch.cat([mean, std, torch.log10(energy + 1e-8)], dim=1)


# ----------------------------------------------------------------------------- separability

def cluster_scores(embeddings, labels, k: int | None = None, seed: int = 0, standardize: bool = True) -> dict:
    """k-means with ``k`` clusters (default: the number of classes), scored against ``labels``.

    NMI (normalised mutual information) and ARI (adjusted Rand index) are 1 for clusters equal to
    the classes (up to renaming) and about 0 for clusters unrelated to them; ARI can be negative.
    Returns ``{"nmi", "ari", "clusters"}``.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if standardize:
        x = StandardScaler().fit_transform(x)
    k = k or len(np.unique(labels))
    clusters = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    return {"nmi": float(normalized_mutual_info_score(labels, clusters)),
            "ari": float(adjusted_rand_score(labels, clusters)), "clusters": clusters}


def majority_recall(labels, clusters) -> np.ndarray:
    """Per class (sorted labels): the fraction of its items in a cluster whose majority is that class.

    A class that k-means merges into a bigger one gets 0 here, however good NMI and ARI look.
    """
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    majority = {c: np.bincount(labels[clusters == c]).argmax() for c in np.unique(clusters)}
    predicted = np.array([majority[c] for c in clusters])
    return np.array([np.mean(predicted[labels == k] == k) for k in np.unique(labels)])


def resampled_scores(embeddings, labels, repeats: int = 10, fraction: float = 0.8, seed: int = 0) -> dict:
    """Mean and standard deviation of NMI and ARI over ``repeats`` class-balanced subsamples.

    Each subsample keeps ``fraction`` of every class: how much the scores move with the sample.
    Returns ``{"nmi_mean", "nmi_std", "ari_mean", "ari_std"}``.
    """
    labels = np.asarray(labels)
    per_class = [max(2, int(fraction * np.sum(labels == c))) for c in np.unique(labels)]
    scores = []
    for r in range(repeats):
        idx = balanced_indices(labels, per_class, seed=seed + 1 + r)
        s = cluster_scores(np.asarray(embeddings)[idx], labels[idx], seed=seed)
        scores.append((s["nmi"], s["ari"]))
    scores = np.array(scores)
    return {"nmi_mean": float(scores[:, 0].mean()), "nmi_std": float(scores[:, 0].std()),
            "ari_mean": float(scores[:, 1].mean()), "ari_std": float(scores[:, 1].std())}


def probe_accuracy(embeddings, labels, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a linear classifier (logistic regression) predicting the labels.

    The supervised counterpart of :func:`cluster_scores`: high accuracy with low NMI means the
    degradation is *in* the embedding but not along its largest directions of variation.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(probe, np.asarray(embeddings, dtype=np.float64), np.asarray(labels), cv=splits).mean())


def umap_available() -> bool:
    """True when ``umap-learn`` can be imported (``pip install umap-learn``)."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def embed_2d(embeddings, method: str = "tsne", seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) with t-SNE (scikit-learn) or UMAP (umap-learn), after z-scoring the dimensions.

    Raises ImportError with the install command when ``method="umap"`` and umap-learn is missing.
    """
    x = StandardScaler().fit_transform(np.asarray(embeddings, dtype=np.float64))
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(x) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    if method == "umap":
        try:
            import umap
        except ImportError as error:
            raise ImportError("UMAP needs umap-learn: pip install umap-learn") from error
        return umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed,
                         n_jobs=1).fit_transform(x)
    raise ValueError(f"method must be 'tsne' or 'umap', got {method!r}")


# ----------------------------------------------------------------------------- spectral statistics

def radial_frequency(height: int, width: int) -> torch.Tensor:
    """(H, W) radial frequency of every FFT coefficient, in units of the Nyquist frequency (0 to sqrt 2)."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.fftfreq(width)[None, :]
    return torch.sqrt(fy ** 2 + fx ** 2) / 0.5


def band_energy(x: torch.Tensor, edges=BAND_EDGES) -> torch.Tensor:
    """Energy of every map in radial frequency bands: (..., H, W) -> (..., len(edges)).

    The mean of each map is removed first (the DC term would otherwise dominate), so by Parseval
    the bands add up to ``((x - mean)**2).sum()`` over H and W. Band ``i`` holds the frequencies
    from ``edges[i]`` (in units of Nyquist) up to the next edge; the last band has no upper edge.
    """
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2) / (x.shape[-2] * x.shape[-1])  # Parseval-normalised
    rho = radial_frequency(*x.shape[-2:])
    uppers = list(edges[1:]) + [float("inf")]
    return torch.stack([(power * ((rho >= lo) & (rho < hi))).sum(dim=(-2, -1)) for lo, hi in zip(edges, uppers)], -1)


def band_fractions(x: torch.Tensor, edges=BAND_EDGES) -> torch.Tensor:
    """Share of each band in the energy of a stack of maps: (N, C, H, W) -> (N, bands), rows sum to 1.

    The energies of the C maps (channels, or GST tokens) are added before dividing.
    """
    energy = band_energy(x, edges).sum(dim=1)  # (N, bands)
    return energy / energy.sum(-1, keepdim=True).clamp_min(1e-12)
