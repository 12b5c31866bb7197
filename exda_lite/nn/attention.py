"""Multi-Dconv head Transposed Attention (MDTA) and its ExDA upgrade.

Restormer's MDTA attends over *channels*, not pixels. For each head, Q, K and V are
(C/h, H*W) matrices whose rows are whole feature maps:

    Q, K, V = split(DWConv3x3(Conv1x1(X)))                       each (B, C, H, W)
    q, k    = L2-normalise the rows of Q and K (along H*W)
    A       = Softmax(q @ k^T * t)                                (B, h, C/h, C/h)
    Y       = Conv1x1(A @ V)                                      (B, C, H, W)

``t`` is a learnable temperature per head, initialised to 1. The cost is linear in
H*W because the attention matrix is only (C/h x C/h).

ExDA changes two things (Fig. 2c):

* **Nonlinear value** (Eq. 1): V is replaced by V' = V + g(V) *before* ``A @ V``.
* **Global spatial tokens** (Eq. 2-3): K token maps G (B, h, K, H*W) are appended as
  extra rows, ``[Q*, K*, V*] = [Q (+) G, K (+) G, V' (+) G]``, so the attention matrix
  becomes (C/h + K) x (C/h + K). Channels can now draw on the global tokens and the
  tokens on the channels.

Our choices where the paper is silent or garbled:

* The concatenated rows of Q* and K* are L2-normalised together, so a token row is
  scored on the same scale as a channel row (the raw maps sum to one and would
  otherwise produce near-zero logits).
* Eq. 3 reads ``Output = Attn[:, :, C, :] + alpha * Attn[:, :, C, :]``; the indices
  are garbled. We read it as ``Output = Attn[:, :, :C] + alpha * M(Attn[:, :, C:])``
  where M maps the K token rows back to the C/h channel rows of the head.
  ``token_to_channel="mean"`` (default) gives every channel the mean of the K token
  rows (exactly the broadcast the equation implies when K = 1; no parameters);
  ``"linear"`` learns a (C/h x K) mixing matrix per head, initialised to that mean.
  alpha is one learnable scalar per layer, initialised to 0.1.
  The text beside Eq. 3 ("separating local channel features and global token
  contributions") allows another reading, ``eq3="separate"``: the channel rows are
  ``A[:C, :C] V' + alpha * A[:C, C:] G``, the channel-to-token attention weights applied to
  the token maps, and the token rows' own outputs are dropped. The default stays
  ``"token_rows"`` because Eq. 3 literally adds two slices of the attention *output*
  (``Attn[..., C, :]`` twice) scaled by alpha, which is our reading; both are switchable.
* The token rows enter V* as they come out of Algorithm 1: softmax maps over the (H/s)(W/s)
  pooled positions, upsampled, so each row sums to ~s^2 over the H*W pixels and its root mean
  square is ~s^2/(H*W) (about 1e-3 at 64x64 with s = 2), against ~0.1-1 for the value rows
  (measured on the committed fig5 models in notebook 05: a ratio of about 2e-3). Their contribution to the output is therefore
  almost nil unless the weights grow to compensate; the paper does not say whether it
  rescales them. ``token_value_scale="rms"`` (opt-in) rescales each token row *in V** to
  the root mean square of its head's value rows (Q* and K* rows are L2-normalised anyway).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gst import GlobalSpatialTokens
from .nonlinear_value import NonlinearValue
from .options import TokenOptions, ValueOptions

TOKEN_TO_CHANNEL = ("mean", "linear")
VALUE_POSITIONS = ("pre", "post")
EQ3_READINGS = ("token_rows", "separate")
TOKEN_VALUE_SCALES = ("softmax", "rms")


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, heads, C/heads, H*W): each row is one channel's feature map."""
    b, c, h, w = x.shape
    return x.reshape(b, heads, c // heads, h * w)


def merge_heads(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, heads, C/heads, H*W) -> (B, C, H, W), the inverse of :func:`split_heads`."""
    b, heads, c_head, _ = x.shape
    return x.reshape(b, heads * c_head, height, width)


def append_rows(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``torch.cat([x, rows], dim=2)``: (B, h, N, H*W) + (B, h, K, H*W) -> (B, h, N+K, H*W), the same values.

    From channels_last features the rows of ``x`` are strided (pixel-major); the result is then built
    pixel-major too, (B, h, H*W, N+K) transposed, so no row is gathered into a dense copy."""
    if x.is_contiguous():
        return torch.cat([x, rows], dim=2)
    return torch.cat([x.transpose(-2, -1), rows.transpose(-2, -1)], dim=-1).transpose(-2, -1)


def cosine_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The cosine of every row of ``q`` with every row of ``k`` (along H*W): (B, h, N, H*W) x 2 -> (B, h, N, N)."""
    if q.is_contiguous() and k.is_contiguous():
        q = F.normalize(q, dim=-1)  # each row has unit L2 norm over H*W
        k = F.normalize(k, dim=-1)
        return q @ k.transpose(-2, -1)
    # channels_last: the rows are strided views; scale the Gram matrix instead of copying normalised rows
    return q @ k.transpose(-2, -1) * inverse_norm(q) * inverse_norm(k).transpose(-2, -1)


def channel_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      temperature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Transposed (channel) attention of one layer, all heads at once.

    Args:
        q, k, v: (B, h, N, H*W) with N rows (channels, or channels + tokens).
        temperature: (h, 1, 1).

    Returns:
        out (B, h, N, H*W) = A @ v and the attention map A (B, h, N, N).
    """
    attn = (cosine_scores(q, k) * temperature).softmax(dim=-1)  # (B, h, N, N)
    return attn @ v, attn


def inverse_norm(x: torch.Tensor) -> torch.Tensor:
    """1 / max(||row||, 1e-12) of every row (along H*W), as ``F.normalize`` divides: (B, h, N, H*W) -> (B, h, N, 1).

    ``q_i . k_j / (|q_i| |k_j|)`` is the cosine that ``F.normalize`` gives, within float rounding (tested)."""
    return x.pow(2).sum(dim=-1, keepdim=True).clamp_min(1e-24).rsqrt()


class ExDAAttention(nn.Module):
    """MDTA, optionally with the nonlinear value (Eq. 1) and GST (Eq. 2-3).

    With ``value_path=None`` and ``gst=None`` this is exactly Restormer's MDTA.

    Args:
        dim: channels C.
        heads: attention heads h (C must be divisible by h).
        bias: bias in the 1x1/3x3 convolutions.
        value_path: a :class:`NonlinearValue` (or None for linear values).
        gst: a :class:`GlobalSpatialTokens` (or None).
        token_to_channel: ``"mean"`` or ``"linear"``, how Eq. 3 maps K token rows to C/h channels.
        alpha_init: initial value of the GST re-injection scale alpha (paper: 0.1).
        value_position: ``"pre"`` (the paper, Eq. 1): ``A @ (V + g(V))``; ``"post"``: the same
            ``value_path`` applied *after* aggregation, ``Y + g(Y)`` with ``Y = A @ V`` -- a
            post-aggregation nonlinearity with exactly the parameters of the pre version (the
            control of notebook 02's pre- vs post-aggregation experiment).
        eq3: ``"token_rows"`` (default) or ``"separate"``, our two readings of Eq. 3 (module docstring).
        token_value_scale: ``"softmax"`` (default, as Algorithm 1 gives them) or ``"rms"``: token
            rows of V* rescaled to the value rows' root mean square (module docstring).

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, dim: int, heads: int, bias: bool = False,
                 value_path: NonlinearValue | None = None, gst: GlobalSpatialTokens | None = None,
                 token_to_channel: str = TokenOptions.token_to_channel, alpha_init: float = TokenOptions.alpha_init,
                 value_position: str = ValueOptions.position, eq3: str = TokenOptions.eq3,
                 token_value_scale: str = TokenOptions.token_value_scale):
        super().__init__()
        if eq3 not in EQ3_READINGS or token_value_scale not in TOKEN_VALUE_SCALES:
            raise ValueError(f"eq3 must be one of {EQ3_READINGS} and token_value_scale one of {TOKEN_VALUE_SCALES}, "
                             f"got {eq3!r}, {token_value_scale!r}")
        self.eq3, self.token_value_scale = eq3, token_value_scale
        if value_position not in VALUE_POSITIONS:
            raise ValueError(f"value_position must be one of {VALUE_POSITIONS}, got {value_position!r}")
        self.value_position = value_position
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        if token_to_channel not in TOKEN_TO_CHANNEL:
            raise ValueError(f"token_to_channel must be one of {TOKEN_TO_CHANNEL}, got {token_to_channel!r}")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)
        self.value_path = value_path
        self.gst = gst
        self.token_to_channel = None
        if gst is not None:
            self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
            if token_to_channel == "linear":
                c_head, k = dim // heads, gst.tokens
                self.token_to_channel = nn.Parameter(torch.full((heads, c_head, k), 1.0 / k))

    def tokens_to_channels(self, token_rows: torch.Tensor, channels: int) -> torch.Tensor:
        """M in our reading of Eq. 3: (B, h, K, H*W) -> (B, h, C/h, H*W)."""
        if self.token_to_channel is None:  # "mean": broadcast the average token row
            return token_rows.mean(dim=2, keepdim=True).expand(-1, -1, channels, -1)
        return torch.einsum("hck,bhkn->bhcn", self.token_to_channel, token_rows)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)  # 3 x (B, C, H, W)
        if self.value_path is not None and self.value_position == "pre":
            v = self.value_path(v)  # Eq. 1: V' = V + g(V), before aggregation
        q, k, v = (split_heads(t, self.heads) for t in (q, k, v))  # (B, h, C/h, H*W)
        if self.gst is not None:
            q, k, v = self.append_tokens(self.gst(x), q, k, v)  # Eq. 2, tokens from Algorithm 1
        attn = self.attention_map(q, k)  # (B, h, N, N)
        out = merge_heads(self.aggregate(attn, v, c // self.heads), h, w)  # Eq. 3
        if self.value_path is not None and self.value_position == "post":
            out = self.value_path(out)  # the control: the same g after aggregation
        out = self.project_out(out)
        return (out, attn) if return_attention else out

    # The steps of forward, one method each (a variant, e.g. an exercise's known mistake, overrides one).

    def append_tokens(self, tokens: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Eq. 2: Q* = [Q; G], K* = [K; G], V* = [V'; G], each (B, h, C/h + K, H*W); G (B, h, K, H*W)."""
        v_tokens = tokens
        if self.token_value_scale == "rms":  # opt-in: token rows of V* on the value rows' scale
            v_rms = v.pow(2).mean(dim=(2, 3), keepdim=True).sqrt()  # (B, h, 1, 1)
            v_tokens = tokens / tokens.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-12) * v_rms
        return append_rows(q, tokens), append_rows(k, tokens), append_rows(v, v_tokens)

    def attention_map(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """A = Softmax(cos(Q*, K*) * t), (B, h, N, N): rows of Q* and K* L2-normalised together."""
        return (cosine_scores(q, k) * self.temperature).softmax(dim=-1)

    def mix(self, attn: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """A @ V*: (B, h, N, N) x (B, h, N, H*W) -> (B, h, N, H*W)."""
        return attn @ v

    def aggregate(self, attn: torch.Tensor, v: torch.Tensor, c_head: int) -> torch.Tensor:
        """A @ V*, then Eq. 3 back to the C/h channel rows of each head: (B, h, C/h, H*W)."""
        if self.gst is None:
            return self.mix(attn, v)
        if self.eq3 == "separate":  # A[:C,:C] V' + alpha * A[:C,C:] G
            return attn[:, :, :c_head, :c_head] @ v[:, :, :c_head] + self.alpha * (attn[:, :, :c_head, c_head:]
                                                                                   @ v[:, :, c_head:])
        out = self.mix(attn, v)  # Eq. 3: channel rows + alpha * (token rows mapped to channels)
        return out[:, :, :c_head] + self.alpha * self.tokens_to_channels(out[:, :, c_head:], c_head)
