"""The course's figures, drawn from code: boxes and arrows with the real shapes written on them.

* :func:`attention_panels`  Fig. 2-style: ViT token attention with CLS / MDTA / ExDA attention
* :func:`mdta_flow`         MDTA's data flow, Conv1x1 -> DWConv3x3 -> heads -> A = softmax(q k^T t) -> A V
* :func:`gst_pipeline`      Algorithm 1 (GST) step by step, then Eq. 2 and Eq. 3
* :func:`unet_figure`       the U-Net of Fig. A with the per-level shapes of an :class:`ExDAConfig`

Every function takes the sizes (C, h, K, s, H, W, ...) as optional arguments, so the shapes in the
drawing are numbers for those sizes, and returns a :class:`matplotlib.figure.Figure` (not attached to
pyplot: nothing is shown twice, nothing stays open). ``fig.savefig("mdta.png")`` saves one; in a
notebook, ``as_image(fig)`` displays it whether or not pyplot's inline backend has been set up.
Nothing is copied from the paper.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from ..nn.configs import ExDAConfig, get_config

COLOURS = {"data": "#eeeeee", "conv": "#cfe2f3", "attn": "#fce5cd", "value": "#d9ead3", "token": "#f4b183",
           "cls": "#e69138", "norm": "#ead1dc", "stage": "#dde7f5", "latent": "#c9daf8"}


def shape(*dims) -> str:
    """``shape("B", "C")`` -> ``"(B, C)"``: a tuple written the way the docstrings write shapes."""
    return "(" + ", ".join(str(d) for d in dims) + ")"


def as_image(fig: Figure, dpi: int = 110):
    """The figure as an ``IPython.display.Image`` (PNG), for a notebook cell's last line."""
    import io

    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return Image(data=buffer.getvalue(), format="png")


def canvas(width: float, height: float) -> tuple[Figure, object]:
    """A Figure with one axis-free axes whose data units are inches (so text sizes are predictable)."""
    fig = Figure(figsize=(width, height), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def box(ax, x: float, y: float, w: float, h: float, text: str, colour: str = "data", size: float = 8.5):
    """A rounded box centred at (x, y) with centred text."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                                fc=COLOURS.get(colour, colour), ec="#555555", lw=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def arrow(ax, start, end, label: str = "", dx: float = 0.08, size: float = 7.5, colour: str = "#333333",
          ha: str = "left", **kwargs):
    """An arrow from ``start`` to ``end``; ``label`` is written beside its middle (a shape, usually)."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.0, shrinkA=0, shrinkB=0, **kwargs))
    if label:
        ax.text((start[0] + end[0]) / 2 + dx, (start[1] + end[1]) / 2, label, ha=ha, va="center",
                fontsize=size, color="#1f3b73")


# ----------------------------------------------------------------------------- (a) Fig. 2-style panels
def row_stack(ax, x: float, top: float, rows, width: float = 0.9, height: float = 0.26):
    """One bar per row of Q (a token, or a whole feature map), labelled on the left."""
    for i, (label, colour) in enumerate(rows):
        y = top - i * (height + 0.06)
        if colour is None:
            ax.text(x + width / 2, y - height / 2, "⋮", ha="center", va="center", fontsize=9)
        else:
            ax.add_patch(Rectangle((x, y - height), width, height, fc=COLOURS[colour], ec="#555555", lw=0.7))
        ax.text(x - 0.08, y - height / 2, label, ha="right", va="center", fontsize=7.5)


def attention_map(ax, x: float, top: float, rows, cell: float = 0.32, seed: int = 0):
    """The attention map as a grid: rows/columns of special tokens (CLS, GST) in their own colour."""
    rng = np.random.default_rng(seed)
    kinds = [colour for _, colour in rows]
    for i, row_kind in enumerate(kinds):
        for j, col_kind in enumerate(kinds):
            colour, alpha = "#ffffff", 1.0
            if row_kind is not None and col_kind is not None:
                special = [k for k in (row_kind, col_kind) if k in ("cls", "token")]
                colour = COLOURS[special[0]] if special else "#6fa8dc"
                alpha = 0.2 + 0.8 * rng.random()
            ax.add_patch(Rectangle((x + j * cell, top - (i + 1) * cell + 0.03), cell, cell - 0.06, fc=colour,
                                   alpha=alpha, ec="#999999", lw=0.4))


def attention_panel(ax, x0: float, title: str, rows, row_note: str, map_note: str, formula: str, seed: int):
    """One panel: the rows of Q, K, V on the left, the attention map on the right, notes below."""
    ax.text(x0 + 2.0, 5.2, title, ha="center", va="center", fontsize=10, weight="bold")
    top, bottom = 4.5, 4.5 - 7 * 0.32  # room for 7 rows in every panel, so the notes line up
    row_stack(ax, x0 + 0.75, top, rows)
    ax.text(x0 + 1.2, top + 0.15, "rows of Q, K, V", ha="center", fontsize=7.5)
    n = len(rows)
    attention_map(ax, x0 + 1.85, top, rows, seed=seed)
    ax.text(x0 + 1.85 + n * 0.16, top + 0.15, "A = softmax(Q Kᵀ)", ha="center", fontsize=7.5)
    ax.text(x0 + 2.0, bottom - 0.2, row_note, ha="center", va="top", fontsize=7.5, linespacing=1.4)
    ax.text(x0 + 2.0, bottom - 0.85, map_note, ha="center", va="top", fontsize=8.5, color="#1f3b73", weight="bold")
    ax.text(x0 + 2.0, bottom - 1.2, formula, ha="center", va="top", fontsize=8, linespacing=1.5)


def attention_panels(C: int = 48, h: int = 1, K: int = 4, H: int = 64, W: int = 64, patch: int = 16) -> Figure:
    """Fig. 2-style: (a) ViT token attention with CLS, (b) MDTA, (c) ExDA attention, with real sizes.

    ViT tokens are ``patch x patch`` patches of an H x W image (N = HW / patch^2) plus one CLS token;
    MDTA and ExDA rows are the C/h channels of one head, each a whole H x W feature map; ExDA appends
    the K global spatial tokens as rows and aggregates the nonlinear value V' = V + g(V).
    """
    n_tokens, c_head, hw = (H // patch) * (W // patch), C // h, H * W
    fig, ax = canvas(13.0, 5.5)
    vit = [("CLS", "cls"), ("patch 1", "attn"), ("patch 2", "attn"), ("", None), (f"patch {n_tokens}", "attn")]
    chans = [("ch 1", "value"), ("ch 2", "value"), ("", None), (f"ch {c_head}", "value")]
    exda = chans + [("G 1", "token"), ("", None), (f"G {K}", "token")]
    attention_panel(ax, 0.15, "(a) ViT: token attention + CLS", vit,
                    f"a row = one token, a vector of d = C = {C} numbers\n"
                    f"N = HW / {patch}² = {n_tokens} patch tokens + 1 CLS token", f"A: {n_tokens + 1} × {n_tokens + 1}",
                    "Y = A V   (cost ∝ (HW)²)\nthe CLS row collects a global summary", seed=1)
    attention_panel(ax, 4.4, "(b) MDTA: transposed (channel) attention", chans,
                    f"a row = one channel's whole H×W map\n(HW = {hw}); C/h = {C}/{h} = {c_head} rows per head",
                    f"A: {c_head} × {c_head} per head",
                    "Y = A V   (cost ∝ HW)\nlinear in V, no global slot", seed=2)
    attention_panel(ax, 8.65, "(c) ExDA: nonlinear value + GST", exda,
                    f"C/h = {c_head} channel rows + K = {K} token rows\n(each token: a softmax map over H×W)",
                    f"A: {c_head + K} × {c_head + K} per head",
                    "V' = V + g(V)  (Eq. 1), before A V\n"
                    "Y = A [V'; G]  (Eq. 2)\nout = Y_ch + α · mean(Y_tok)  (Eq. 3)", seed=3)
    return fig


# ----------------------------------------------------------------------------- (b) MDTA data flow
def mdta_flow(B: int = 1, C: int = 48, h: int = 1, H: int = 64, W: int = 64) -> Figure:
    """MDTA (Restormer's attention) with the tensor shapes between the steps."""
    c_head, hw = C // h, H * W
    fig, ax = canvas(9.4, 9.2)
    cx, cols = 3.4, (1.4, 3.4, 5.4)
    ax.text(0.2, 8.8, "MDTA (Restormer)", fontsize=10, weight="bold", va="center")
    box(ax, cx, 8.8, 2.2, 0.42, "X (block input)")
    box(ax, cx, 7.9, 2.2, 0.42, f"Conv1x1  {C} → {3 * C}", "conv")
    box(ax, cx, 7.0, 2.2, 0.42, f"DWConv3x3 ({3 * C} groups)", "conv")
    arrow(ax, (cx, 8.58), (cx, 8.12), shape(B, C, H, W))
    arrow(ax, (cx, 7.68), (cx, 7.22), shape(B, 3 * C, H, W))
    for name, x in zip("QKV", cols):
        box(ax, x, 5.95, 0.75, 0.42, name, "value" if name == "V" else "attn")
        arrow(ax, (cx, 6.78), (x, 6.17), shape(B, C, H, W) if name == "Q" else "", dx=-0.1, ha="right")
        box(ax, x, 4.95, 1.7, 0.42, "split heads", "data")
        arrow(ax, (x, 5.73), (x, 5.17))
    ax.text(5.95, 5.95, "← split along C", fontsize=7.5, va="center")
    for x in cols[:2]:
        box(ax, x, 3.95, 1.7, 0.42, "L2-normalise rows", "norm")
        arrow(ax, (x, 4.73), (x, 4.17), shape(B, h, c_head, hw) if x == cols[0] else "", dx=-0.1, ha="right")
    ax.text(6.35, 4.45, f"each (B, h, C/h, HW)\n= {shape(B, h, c_head, hw)}", fontsize=7.5, va="center",
            color="#1f3b73")
    box(ax, 2.4, 2.85, 2.9, 0.62, f"A = softmax(q kᵀ · t)\n(B, h, C/h, C/h) = {shape(B, h, c_head, c_head)}",
        "attn", size=8)
    for x in cols[:2]:
        arrow(ax, (x, 3.73), (2.4 + (x - 2.4) * 0.5, 3.16))
    box(ax, 4.6, 1.75, 1.1, 0.42, "A V", "attn")
    arrow(ax, (2.4, 2.54), (4.05, 1.85))
    arrow(ax, (cols[2], 4.73), (4.9, 1.97))
    box(ax, 4.6, 0.95, 1.5, 0.38, "merge heads", "data")
    box(ax, 7.6, 0.95, 1.8, 0.42, f"Conv1x1  {C} → {C}", "conv")
    arrow(ax, (4.6, 1.54), (4.6, 1.14), shape(B, h, c_head, hw))
    arrow(ax, (5.35, 0.95), (6.7, 0.95))
    ax.text(6.0, 0.72, shape(B, C, H, W), ha="center", fontsize=7.5, color="#1f3b73", va="top")
    arrow(ax, (8.5, 0.95), (9.25, 0.95))
    ax.text(8.9, 1.15, "Y", ha="center", fontsize=9)
    ax.text(7.4, 2.85, f"t: a learnable temperature per head\ncost: the map is only {c_head} × {c_head},\n"
            f"linear in HW = {hw}", fontsize=7.5, va="center", ha="center")
    return fig


# ----------------------------------------------------------------------------- (c) Algorithm 1
def gst_pipeline(B: int = 1, C: int = 48, h: int = 1, K: int = 4, s: int = 2, H: int = 64, W: int = 64) -> Figure:
    """Algorithm 1 (GST) with shapes, then how the tokens enter attention (Eq. 2) and the output (Eq. 3)."""
    hs, ws = -(-H // s), -(-W // s)  # ceil: the pooling uses ceil_mode=True
    c_head = C // h
    fig, ax = canvas(8.6, 10.2)
    x, steps = 3.0, [("X (block input)", "data"), (f"AvgPool_s   (s = {s})", "conv"),
                     (f"W_proj: Conv1x1  {C} → h·K = {h * K}", "conv"), ("spatial softmax per token", "norm"),
                     (f"bilinear upsample to {H} × {W}", "conv"), ("G: K token maps per head", "token")]
    shapes = [f"X {shape(B, C, H, W)}", f"X~ (B, C, H/s, W/s) = {shape(B, C, hs, ws)}",
              f"Φ (B, hK, H/s, W/s) = {shape(B, h * K, hs, ws)}",
              f"(B, h, K, HW/s²) = {shape(B, h, K, hs * ws)}, each map sums to 1",
              f"G (B, h, K, HW) = {shape(B, h, K, H * W)}"]
    ys = [9.2 - 0.92 * i for i in range(len(steps))]
    for (text, colour), y in zip(steps, ys):
        box(ax, x, y, 3.4, 0.45, text, colour)
    for i, label in enumerate(shapes):
        arrow(ax, (x, ys[i] - 0.23), (x, ys[i + 1] + 0.23), label, dx=0.12)
    ax.text(0.25, 9.85, "Algorithm 1: Global Spatial Tokens", fontsize=10, weight="bold")
    y2 = ys[-1] - 1.15
    box(ax, x, y2, 4.6, 0.75, f"Eq. 2: Q* = [Q; G], K* = [K; G], V* = [V'; G]\n"
        f"each (B, h, C/h + K, HW) = {shape(B, h, c_head + K, H * W)}", "attn", size=8)
    arrow(ax, (x, ys[-1] - 0.23), (x, y2 + 0.38), "appended as rows", dx=0.12)
    box(ax, 7.3, y2, 2.5, 0.75, "Q, K, V' = V + g(V)\n(Eq. 1), split into heads\n" + shape(B, h, c_head, H * W),
        "value", size=7.5)
    arrow(ax, (6.05, y2), (5.3, y2))
    y3 = y2 - 1.15
    box(ax, x, y3, 4.6, 0.6, f"A = softmax(q* k*ᵀ · t): {c_head + K} × {c_head + K};   Y = A V*", "attn", size=8)
    arrow(ax, (x, y2 - 0.38), (x, y3 + 0.3), "rows of Q*, K* L2-normalised", dx=0.12)
    y4 = y3 - 1.05
    box(ax, x, y4, 5.4, 0.6, "Eq. 3: out = Y[:, :, :C/h] + α · mean_K Y[:, :, C/h:]\n"
        f"({c_head} channel rows + α × the mean of the {K} token rows; α starts at 0.1)", "token", size=8)
    arrow(ax, (x, y3 - 0.3), (x, y4 + 0.3), shape(B, h, c_head + K, H * W), dx=0.12)
    return fig


# ----------------------------------------------------------------------------- (d) the U-Net of Fig. A
def unet_levels(config: ExDAConfig, H: int, W: int) -> list[dict]:
    """Per stage: name, blocks, heads, channels and resolution (the input is padded to a multiple of 8)."""
    ph, pw, d = -(-H // 8) * 8, -(-W // 8) * 8, config.dim
    levels = []
    for i, name in enumerate(["encoder 1", "encoder 2", "encoder 3", "latent"]):
        levels.append(dict(name=name, blocks=config.blocks[i], heads=config.heads[i], channels=d * 2 ** i,
                           height=ph // 2 ** i, width=pw // 2 ** i))
    for i, name in ((2, "decoder 3"), (1, "decoder 2"), (0, "decoder 1")):
        levels.append(dict(name=name, blocks=config.blocks[i], heads=config.heads[i],
                           channels=d * 2 ** i if i else 2 * d, height=ph // 2 ** i, width=pw // 2 ** i))
    levels.append(dict(name="refinement", blocks=config.refinement, heads=config.heads[0], channels=2 * d,
                       height=ph, width=pw))
    return levels


def unet_figure(config: str | ExDAConfig = "exda_t", H: int = 128, W: int = 128, B: int = 1) -> Figure:
    """Fig. A: the four-level U-Net with blocks, heads and shapes per level for ``config`` and an H x W input."""
    cfg = get_config(config) if isinstance(config, str) else config
    name = config if isinstance(config, str) else "custom config"
    lv = unet_levels(cfg, H, W)
    fig, ax = canvas(12.0, 9.3)
    pos = [(2.6, 6.4), (2.6, 4.7), (2.6, 3.0), (6.0, 1.3), (9.4, 3.0), (9.4, 4.7), (9.4, 6.4), (9.4, 7.75)]
    for level, (x, y) in zip(lv, pos):
        head = "head" if level["heads"] == 1 else "heads"
        text = (f"{level['name']}: {level['blocks']} × block, {level['heads']} {head}\n"
                + shape(B, level["channels"], level["height"], level["width"]))
        box(ax, x, y, 3.0, 0.7, text, "latent" if level["name"] == "latent" else "stage", size=8)
    box(ax, 2.6, 7.75, 3.0, 0.55, f"input {shape(B, cfg.in_channels, H, W)}\nConv3x3 {cfg.in_channels} → {cfg.dim}",
        "conv", size=8)
    arrow(ax, (2.6, 7.47), (2.6, 6.75))
    for i in range(2):
        arrow(ax, (2.6, pos[i][1] - 0.35), (2.6, pos[i + 1][1] + 0.35), "Conv3x3 C→C/2 + PixelUnshuffle(2)")
    arrow(ax, (2.6, pos[2][1] - 0.35), (4.5, 1.3), "down", dx=0.1)
    arrow(ax, (7.5, 1.3), (9.4, pos[4][1] - 0.35), "up", dx=-0.1, ha="right")
    for i in (4, 5):
        arrow(ax, (9.4, pos[i][1] + 0.35), (9.4, pos[i + 1][1] - 0.35), "Conv3x3 C→2C + PixelShuffle(2)", dx=-0.1,
              ha="right")
    for enc, dec, note in ((0, 6, "concat (no reduction)"), (1, 5, "concat + Conv1x1 → C"),
                           (2, 4, "concat + Conv1x1 → C")):
        arrow(ax, (4.1, pos[enc][1]), (7.9, pos[dec][1]), "", linestyle="--")
        ax.text(6.0, pos[enc][1] + 0.12, f"skip {enc + 1}: {note}", ha="center", fontsize=7.5, color="#1f3b73")
    arrow(ax, (9.4, 6.75), (9.4, 7.4))
    arrow(ax, (9.4, 8.1), (9.4, 8.6))
    out_shape = shape(B, cfg.out_channels, H, W)
    box(ax, 9.4, 8.85, 3.0, 0.5, f"output Conv3x3 {2 * cfg.dim} → {cfg.out_channels}\n"
        + (f"+ input = {out_shape}" if cfg.global_residual else out_shape), "conv", size=8)
    if cfg.global_residual:
        arrow(ax, (4.1, 7.9), (7.9, 8.85), "", linestyle=":")
        ax.text(6.0, 8.55, "global residual", ha="center", fontsize=7.5, color="#1f3b73", rotation=14)
    where = {"both": "all stages", "encoder": "encoder + latent", "decoder": "decoder + refinement"}
    token_note = f"GST K = {cfg.gst_tokens}, s = {cfg.gst_stride}" if cfg.gst else "no GST"
    value_note = f"nonlinear value in {where[cfg.value_where]}" if cfg.nonlinear_value else "linear value"
    ax.text(0.2, 9.0, f"{name}: dim = {cfg.dim}, input {H} × {W}", fontsize=11, weight="bold")
    ax.text(0.2, 1.3, f"block = LN → attention → LN → GDFN (×{cfg.ffn_factor:g})\nattention: {value_note},\n"
            f"    {token_note}\nencoder level i: {cfg.dim}·2^(i-1) channels at H/2^(i-1)", va="center",
            fontsize=8, linespacing=1.5)
    if (H % 8) or (W % 8):
        ax.text(6.0, 0.35, f"input padded to {-(-H // 8) * 8} × {-(-W // 8) * 8} (a multiple of 8), "
                f"output cropped back to {H} × {W}", ha="center", fontsize=7.5)
    return fig
