"""Model configurations: one dataclass, and the named configs of the paper.

========== ======= ============== ======== =========== ==== ====== =====================
name       dim     blocks         heads    refinement  ffn  NV/GST source
========== ======= ============== ======== =========== ==== ====== =====================
restormer  48      [4, 6, 6, 8]   1,2,4,8  4           2.66 off    Restormer (26,126,644 params)
exda_b     48      [4, 6, 6, 8]   1,2,4,8  4           2    on     Table A, ExDA-Base
exda_s     32      [4, 6, 6, 8]   1,2,4,8  3           2    on     Table A, ExDA-S
exda_t     26      [3, 5, 5, 7]   1,2,4,8  3           2    on     Table A, ExDA-T
exda_nano  16      [1, 1, 1, 2]   1,2,4,8  1           2    on     ours: trains on a laptop CPU
========== ======= ============== ======== =========== ==== ====== =====================

Every field can be overridden: ``build_model("exda_t", gst=False)`` is ExDA-T without
GST, ``build_model("exda_nano", in_channels=1, out_channels=1)`` is a grayscale model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from .layernorm import LAYERNORM_KINDS
from .nonlinear_value import VALUE_ACTS, VALUE_FORMS, VALUE_GROUPS
from .attention import EQ3_READINGS, TOKEN_TO_CHANNEL, TOKEN_VALUE_SCALES
from .block import TokenOptions, ValueOptions

VALUE_WHERE = ("both", "encoder", "decoder")


@dataclass(frozen=True)
class ExDAConfig:
    """Everything that defines an ExDA / Restormer U-Net (Appendix B, Fig. A).

    Level i (i = 1..4) runs at ``dim * 2**(i-1)`` channels with ``heads[i-1]`` heads and
    ``blocks[i-1]`` blocks; the latent is level 4. Decoder level 1 and the refinement
    blocks run at ``2 * dim`` channels (Restormer's layout).

    ``value_where``: "encoder" means encoder levels 1-3 and the latent, "decoder" means
    decoder levels 3-1 and the refinement blocks (the paper does not say where the
    latent and refinement belong; Table 7's rows are reproduced with this split).
    """

    in_channels: int = 3
    out_channels: int = 3
    dim: int = 48
    blocks: tuple[int, int, int, int] = (4, 6, 6, 8)
    heads: tuple[int, int, int, int] = (1, 2, 4, 8)
    refinement: int = 4
    ffn_factor: float = 2.0
    bias: bool = False
    layernorm: str = "withbias"
    # nonlinear value path (Sec. 3.2, Eq. 1, Table 7)
    nonlinear_value: bool = True
    value_form: str = ValueOptions.form  # the value/GST defaults are written once, in ValueOptions / TokenOptions
    value_act: str = ValueOptions.act
    value_learnable: bool = ValueOptions.learnable
    value_groups: str = ValueOptions.groups
    value_where: str = "both"
    # global spatial tokens (Sec. 3.3, Alg. 1, Eq. 2-3)
    gst: bool = True
    gst_tokens: int = TokenOptions.tokens
    gst_stride: int = TokenOptions.stride
    gst_token_to_channel: str = TokenOptions.token_to_channel
    gst_alpha_init: float = TokenOptions.alpha_init
    gst_eq3: str = TokenOptions.eq3  # our reading of Eq. 3; "separate": A[:C,:C] V' + alpha A[:C,C:] G
    gst_token_value_scale: str = TokenOptions.token_value_scale  # "rms": token rows of V* on the value rows' scale
    # output
    global_residual: bool = True

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "heads", tuple(self.heads))
        choices = {"layernorm": LAYERNORM_KINDS, "value_form": VALUE_FORMS, "value_act": VALUE_ACTS,
                   "value_groups": VALUE_GROUPS, "value_where": VALUE_WHERE,
                   "gst_token_to_channel": TOKEN_TO_CHANNEL, "gst_eq3": EQ3_READINGS,
                   "gst_token_value_scale": TOKEN_VALUE_SCALES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if len(self.blocks) != 4 or len(self.heads) != 4:
            raise ValueError(f"blocks and heads need 4 entries (one per level), got {self.blocks} and {self.heads}")
        if self.dim < 2 or self.dim % 2:
            raise ValueError(f"dim must be even (the downsampling halves it), got {self.dim}")
        for level, heads in enumerate(self.heads):
            width = self.dim * 2 ** level
            if width % heads:
                raise ValueError(f"level {level + 1} has {width} channels, not divisible by {heads} heads")
        if (2 * self.dim) % self.heads[0]:
            raise ValueError(f"decoder level 1 has {2 * self.dim} channels, not divisible by {self.heads[0]} heads")

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS: dict[str, ExDAConfig] = {
    "restormer": ExDAConfig(dim=48, blocks=(4, 6, 6, 8), refinement=4, ffn_factor=2.66,
                            nonlinear_value=False, gst=False),
    "exda_b": ExDAConfig(dim=48, blocks=(4, 6, 6, 8), refinement=4),
    "exda_s": ExDAConfig(dim=32, blocks=(4, 6, 6, 8), refinement=3),
    "exda_t": ExDAConfig(dim=26, blocks=(3, 5, 5, 7), refinement=3),
    "exda_nano": ExDAConfig(dim=16, blocks=(1, 1, 1, 2), refinement=1),
}

# What Table A (and the reference file, for Restormer) reports: (parameters, FLOPs at 224^2 in G).
PAPER_SIZES = {
    "restormer": (26_126_644, None),
    "exda_b": (22_420_000, 109),
    "exda_s": (10_050_000, 47),
    "exda_t": (5_830_000, 27),
    "exda_nano": (None, None),
}


def get_config(name: str, **overrides) -> ExDAConfig:
    """The named config with some fields replaced; clear errors for unknown names/fields."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(CONFIGS)}")
    valid = {f.name for f in fields(ExDAConfig)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise TypeError(f"unknown config field(s) {unknown}; valid fields are {sorted(valid)}")
    return replace(CONFIGS[name], **overrides)
