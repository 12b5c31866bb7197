"""Course exercises across notebooks 02-09: paired t, SSIM, ExDA attention (capstone), NMI, a training step.

Each exercise names the notebook it belongs to in the comment above it. ``training_step``
checks a *procedure*: the student writes one step, the checker runs 20 of them
(``Exercise.runner``) and compares the losses and the final weights with the library's step.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from scipy.ndimage import uniform_filter

from ...nn.attention import ExDAAttention
from ...nn.gst import GlobalSpatialTokens
from ...nn.nonlinear_value import NonlinearValue
from .checker import Exercise, one_thread


# ----------------------------------------------------------------------------- notebook 03: SSIM
def ssim_inputs(seed: int):
    rng = np.random.default_rng(seed)
    clean = 0.5 + 0.3 * (uniform_filter(rng.random((14, 17)), 3) - 0.5)  # a smooth, low-contrast patch: the
    return clean, np.clip(clean + 0.03 * rng.standard_normal(clean.shape), 0, 1)  # constants and 49/48 matter


def ssim_reference(a, b):
    from skimage.metrics import structural_similarity

    return structural_similarity(a, b, data_range=1.0, gaussian_weights=False, win_size=7, use_sample_covariance=True)


def ssim_variant(a, b, constants=True, ddof=1, data_range=1.0, crop=True, win=7):
    mean = functools.partial(uniform_filter, size=win)
    ma, mb = mean(a), mean(b)
    norm = win * win / (win * win - ddof)
    va, vb, cov = (norm * (mean(a * a) - ma * ma), norm * (mean(b * b) - mb * mb), norm * (mean(a * b) - ma * mb))
    c1, c2 = ((0.01 * data_range) ** 2, (0.03 * data_range) ** 2) if constants else (0.0, 0.0)
    s = (2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    pad = (win - 1) // 2
    return float((s[pad:-pad, pad:-pad] if crop else s).mean())


# ----------------------------------------------------------------------------- notebook 09: paired t
def paired_inputs(seed: int):
    rng = np.random.default_rng(seed)
    images = 28.0 + 3.0 * rng.standard_normal(8)  # per-image PSNR varies a lot between images ...
    return images + 0.1 + 0.2 * rng.standard_normal(8), images  # ... the paired gain is small: p ~ 0.01-0.5


def paired_reference(a, b):
    result = stats.ttest_rel(a, b)
    return float(result.statistic), float(result.pvalue)


def paired_variant(a, b, ddof=1, sided=2):
    d = np.asarray(a) - np.asarray(b)
    t = d.mean() / (d.std(ddof=ddof) / math.sqrt(len(d)))
    return float(t), float(stats.t.sf(abs(t), len(d) - 1) * sided)


# ----------------------------------------------------------------------------- notebook 08: NMI
def nmi_inputs(seed: int):
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 6, size=(3, 5))
    table[np.arange(3), rng.permutation(5)[:3]] += rng.integers(8, 20, size=3)  # clusters mostly follow classes
    return (table,)


def nmi_reference(table):
    from sklearn.metrics import normalized_mutual_info_score

    rows, cols = np.nonzero(table)
    counts = table[rows, cols]
    return normalized_mutual_info_score(np.repeat(rows, counts), np.repeat(cols, counts))


def nmi_parts(table):
    p = table / table.sum()
    pu, pv = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pu, pv)[nz])).sum())
    entropy = lambda q: float(-(q[q > 0] * np.log(q[q > 0])).sum())
    return mi, entropy(pu), entropy(pv)


# ----------------------------------------------------------------------------- notebook 07: training step
TRAIN_STEPS, TRAIN_LR = 20, 2e-3


def reference_step(model, optimizer, scheduler, degraded, clean, loss_fn):
    """What ``exda_lite.training.loop.train_step`` does (fp32, no clipping): one iteration."""
    optimizer.zero_grad()
    loss = loss_fn(model(degraded), clean)["total"]
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.item()


def run_training(step, seed: int) -> torch.Tensor:
    """20 iterations of ``step`` on a tiny grayscale ExDA: the 20 losses, then every final weight.

    The outcomes of the exercise's own steps (the reference, the known mistakes) are computed once per seed.
    """
    if any(step is known for known in KNOWN_STEPS):
        return known_training(step, seed).clone()
    return train_twenty(step, seed)


@functools.lru_cache(maxsize=16)
def known_training(step, seed: int) -> torch.Tensor:
    return train_twenty(step, seed)


def train_twenty(step, seed: int) -> torch.Tensor:
    from ...nn.model import build_model
    from ...training.losses import RestorationLoss
    from ...training.schedule import lr_factor

    with one_thread():  # also when called outside check(): tiny ops, one thread is faster
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = build_model(
                "exda_nano", dim=4, blocks=(1, 1, 1, 1), refinement=0, in_channels=1, out_channels=1
            ).double()
            clean = torch.rand(TRAIN_STEPS, 2, 1, 16, 16, dtype=torch.float64)
            degraded = (clean + 0.1 * torch.randn_like(clean)).clamp(0, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=TRAIN_LR)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, TRAIN_STEPS))
        loss_fn, losses = RestorationLoss(fourier_weight=0.1), []
        for i in range(TRAIN_STEPS):
            loss = step(model, optimizer, scheduler, degraded[i], clean[i], loss_fn)
            if loss is None:
                raise TypeError("my_train_step returned None; return the loss value (loss.item()).")
            losses.append(float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss))
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return torch.cat([torch.tensor(losses, dtype=torch.float64), weights])


def step_variant(
    model, optimizer, scheduler, degraded, clean, loss_fn, zero=True, order="optimizer-first", term="total"
):
    if zero:
        optimizer.zero_grad()
    loss = loss_fn(model(degraded), clean)[term]
    loss.backward()
    if order == "scheduler-first":
        scheduler.step()
    optimizer.step()
    if order == "optimizer-first":
        scheduler.step()
    return loss.item()


NO_ZERO_GRAD = functools.partial(step_variant, zero=False)
SCHEDULER_FIRST = functools.partial(step_variant, order="scheduler-first")
NO_FOURIER = functools.partial(step_variant, term="l1")
KNOWN_STEPS = (reference_step, NO_ZERO_GRAD, SCHEDULER_FIRST, NO_FOURIER)


# ----------------------------------------------------------------------------- notebook 06: capstone
def attention_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    c, heads, tokens, stride = 8, 2, 2, 2
    r = lambda *shape, scale=0.5: scale * torch.randn(*shape, generator=g, dtype=torch.float64)
    weights = {
        "qkv": r(3 * c, c, 1, 1),
        "qkv_dw": r(3 * c, 1, 3, 3),
        "value_1": r(c, c // heads, 1, 1),
        "value_dw": r(c, 1, 3, 3),
        "value_2": r(c, c // heads, 1, 1),
        "gst": r(heads * tokens, c, 1, 1),
        "temperature": 0.5 + torch.rand(heads, 1, 1, generator=g, dtype=torch.float64),
        "alpha": 0.1 + 0.3 * torch.rand((), generator=g, dtype=torch.float64),
        "out": r(c, c, 1, 1),
    }
    return r(2, c, 6, 7, scale=1.0), weights, heads, tokens, stride


MODULE_NAMES = {
    "qkv": "qkv.weight",
    "qkv_dw": "qkv_dwconv.weight",
    "value_1": "value_path.g.0.weight",
    "value_dw": "value_path.g.1.weight",
    "value_2": "value_path.g.3.weight",
    "gst": "gst.proj.weight",
    "temperature": "temperature",
    "alpha": "alpha",
    "out": "project_out.weight",
}


def exda_layer(x, weights, heads, tokens, stride) -> ExDAAttention:
    """The library's ExDA attention (nonlinear value, GST, Eq. 3 "mean") holding the exercise's weights."""
    c = x.shape[1]
    layer = ExDAAttention(
        c,
        heads,
        value_path=NonlinearValue(c, heads),
        gst=GlobalSpatialTokens(c, heads, tokens, stride),
        token_to_channel="mean",
    ).double()
    layer.load_state_dict({MODULE_NAMES[k]: v for k, v in weights.items()})
    return layer


def attention_reference(x, weights, heads, tokens, stride):
    with torch.no_grad():
        return exda_layer(x, weights, heads, tokens, stride)(x)


def attention_variant(x, w, heads, tokens, stride, value=True, tokens_in_v=True, alpha=True, norm_tokens=True):
    """The library's layer with one known mistake: each switch replaces one step of ``ExDAAttention.forward``."""
    layer, c_head = exda_layer(x, w, heads, tokens, stride), x.shape[1] // heads
    if not value:  # Eq. 1 left out: A V instead of A V'
        layer.value_path = None
    if not alpha:  # Eq. 3 without alpha: the token rows at full weight
        layer.alpha.data.fill_(1.0)
    if not tokens_in_v:  # Eq. 2 with V* = V': the token columns of A dropped
        layer.mix = lambda attn, v: attn[..., :c_head] @ v[:, :, :c_head]
    if not norm_tokens:  # the rows of Q and K normalised *before* G is appended, so G's rows stay raw
        plain_append = layer.append_tokens
        layer.append_tokens = lambda g, q, k, v: plain_append(g, F.normalize(q, dim=-1), F.normalize(k, dim=-1), v)
        layer.attention_map = lambda q, k: (q @ k.transpose(-2, -1) * layer.temperature).softmax(-1)
    with torch.no_grad():
        return layer(x)


EXERCISES: dict[str, Exercise] = {
    "ssim": Exercise(  # notebook 03 (where SSIM is first used)
        "SSIM with scikit-image's conventions (7x7 uniform window)",
        ssim_reference,
        ssim_inputs,
        [
            (
                "the stabilising constants are missing: SSIM adds C1 = (0.01 L)^2 to the luminance terms and "
                "C2 = (0.03 L)^2 to the contrast terms, with L the data range.",
                lambda a, b: ssim_variant(a, b, constants=False),
            ),
            (
                "you used the population variance (divide by N = 49); scikit-image's use_sample_covariance=True "
                "divides by N - 1 = 48, i.e. multiplies the window moments by 49/48.",
                lambda a, b: ssim_variant(a, b, ddof=0),
            ),
            (
                "the data range is wrong: the images are floats in [0, 1], so L = 1 (L = 255 makes C1, C2 so large "
                "that SSIM is ~1 for any pair).",
                lambda a, b: ssim_variant(a, b, data_range=255.0),
            ),
            (
                "you averaged the whole SSIM map; scikit-image drops a border of (7 - 1) // 2 = 3 pixels, where the "
                "window would leave the image, before taking the mean.",
                lambda a, b: ssim_variant(a, b, crop=False),
            ),
        ],
        hint="Your local statistics or the averaging differ from scikit-image's. "
        "SSIM is computed from local means, variances and the covariance in a 7x7 window: "
        "mu = uniform_filter(x, 7); var = 49/48 * (uniform_filter(x*x, 7) - mu**2) (and the same for the "
        "covariance); S = (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2)) "
        "with C1 = 0.01**2, C2 = 0.03**2; mean of S[3:-3, 3:-3].",
    ),
    "paired_t": Exercise(  # notebook 09 (beside Welch: two models on the same seeds)
        "paired t-test (two models, same images)",
        paired_reference,
        paired_inputs,
        [
            (
                "that is a test for *independent* samples (Welch's or Student's): "
                "it treats the two columns as unrelated, so the large "
                "image-to-image spread swamps the small gain. Pair them: test the per-image differences a - b.",
                lambda a, b: tuple(map(float, stats.ttest_ind(a, b, equal_var=False))),
            ),
            (
                "you used the population standard deviation of the differences (ddof=0); the t statistic uses the "
                "sample standard deviation, np.std(d, ddof=1).",
                lambda a, b: paired_variant(a, b, ddof=0),
            ),
            (
                "that p-value is one-sided; ttest_rel's default is two-sided: p = 2 * P(T > |t|) with n - 1 degrees "
                "of freedom.",
                lambda a, b: paired_variant(a, b, sided=1),
            ),
        ],
        hint="Your t or p is not the paired test's, which only looks at the per-image differences. "
        "d = a - b; t = mean(d) / (std(d, ddof=1) / sqrt(n)); "
        "p = 2 * scipy.stats.t.sf(abs(t), n - 1); return t, p.",
    ),
    "nmi_contingency": Exercise(  # notebook 08 (do embeddings cluster by degradation?)
        "NMI from a contingency table",
        nmi_reference,
        nmi_inputs,
        [
            (
                "you normalised by the geometric mean sqrt(H(U) H(V)); scikit-learn's default (average_method="
                "'arithmetic') divides by the arithmetic mean (H(U) + H(V)) / 2.",
                lambda t: (lambda mi, hu, hv: mi / math.sqrt(hu * hv))(*nmi_parts(t)),
            ),
            (
                "that is the raw mutual information I(U; V) in nats; NMI divides it by the mean entropy "
                "(H(U) + H(V)) / 2 so that it lies in [0, 1].",
                lambda t: nmi_parts(t)[0],
            ),
            (
                "you divided by the entropy of the true classes only (that is the homogeneity score); NMI divides by "
                "the mean of both entropies, (H(classes) + H(clusters)) / 2.",
                lambda t: (lambda mi, hu, hv: mi / hu)(*nmi_parts(t)),
            ),
        ],
        hint="Your mutual information, an entropy or the normalisation differs from scikit-learn's. "
        "p = table / table.sum(); p_u, p_v = row and column sums; I = sum p log(p / (p_u p_v)) over p > 0; "
        "NMI = I / ((H(p_u) + H(p_v)) / 2).",
    ),
    "training_step": Exercise(  # notebook 07 (the training loop)
        "one training step (20 steps vs exda_lite.training)",
        reference_step,
        lambda seed: (seed,),
        [
            (
                "the gradients accumulate from step to step: call optimizer.zero_grad() before loss.backward(), "
                "otherwise every step also applies all the previous steps' gradients.",
                NO_ZERO_GRAD,
            ),
            (
                "the schedule runs one step ahead: the scheduler must be stepped *after* optimizer.step(), so the "
                "first update uses the base learning rate (PyTorch warns about this order).",
                SCHEDULER_FIRST,
            ),
            (
                "the Fourier term is missing: Eq. 4 optimises L1 + 0.1 * Fourier, loss_fn(...)['total'], "
                "not loss_fn(...)['l1'].",
                NO_FOURIER,
            ),
        ],
        hint="After 20 steps your losses or weights differ from exda_lite.training's: the order of the calls or the "
        "loss is off. Order: optimizer.zero_grad(); loss = loss_fn(model(degraded), clean)['total']; loss.backward(); "
        "optimizer.step(); scheduler.step(); return loss.item().",
        runner=run_training,
        seeds=(0,),
    ),
    "exda_attention": Exercise(  # notebook 06 (capstone: Eq. 1 + 2 + 3 in one forward)
        "ExDA attention from explicit weights (Eq. 1-3)",
        attention_reference,
        attention_inputs,
        [
            (
                "V instead of V': the nonlinear value path (Eq. 1) is missing; aggregate V' = V + g(V), "
                "g = Conv1x1 -> DWConv3x3 -> GELU -> Conv1x1 (1x1 convs grouped by head).",
                lambda *a: attention_variant(*a, value=False),
            ),
            (
                "the tokens were not appended to the values: Eq. 2 concatenates G to Q, K *and* V' (V* = [V'; G]); "
                "you dropped the token columns of A instead.",
                lambda *a: attention_variant(*a, tokens_in_v=False),
            ),
            (
                "the alpha re-injection is missing (you added the token rows at full weight): Eq. 3 adds alpha times "
                "the mean of the K token rows to the C/h channel rows.",
                lambda *a: attention_variant(*a, alpha=False),
            ),
            (
                "the token rows were appended after L2-normalising Q and K: normalise the rows of Q* = [Q; G] and "
                "K* = [K; G] together, so the token rows are scored on the same scale.",
                lambda *a: attention_variant(*a, norm_tokens=False),
            ),
        ],
        hint="Your output differs from ExDAAttention's: one of Eq. 1, Algorithm 1, Eq. 2 or Eq. 3 is off. "
        "q, k, v = DWConv(Conv1x1(x)); v = v + g(v); G = Algorithm 1 (avg-pool, 1x1, spatial softmax, "
        "bilinear); heads (B, h, C/h, HW); Q*, K*, V* = cat with G on dim 2; A = softmax(norm(Q*) norm(K*)^T t); "
        "Y = A V*; out = Y[:, :, :C/h] + alpha * Y[:, :, C/h:].mean(2); merge heads; Conv1x1.",
    ),
}
