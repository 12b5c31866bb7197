"""The paper's numbers, with where they are stated: the one module that writes them down.

* ``TABLES``   the ExDA rows of Tables 1-6, by table number (which setting a table reports is
               ``exda_lite.data.settings``' ``paper_table``): column -> (PSNR dB, SSIM);
* ``FIG5``, ``CONTEXT``, ``FIG6``, ``FIG7``  what the text states for Figs. 5-7;
* ``PAPER``    the paper's claims that the reference experiments test (below).

``PAPER``'s keys are ``<experiment>.<arm>_minus_<control>``, the paired comparisons of the reference runs.
``value`` is the paper's size of the effect in the experiment's unit (``kind`` "ratio": arm /
control of the final loss; "difference": arm - control in ``unit``, dB unless stated), or None
where the paper states only a direction.
"""

from __future__ import annotations

TABLES: dict[int, dict[str, tuple[float, float]]] = {
    # Table 1: three degradations (RGB)
    1: {"SOTS": (31.58, .982), "Rain100L": (39.13, .985), "BSD68 σ=15": (34.22, .937),
        "BSD68 σ=25": (31.56, .895), "BSD68 σ=50": (28.32, .808), "Average": (32.96, .921)},
    # Table 2: five degradations (RGB)
    2: {"SOTS": (31.14, .981), "Rain100L": (39.23, .985), "BSD68 σ=25": (31.52, .893),
        "GoPro": (29.06, .878), "LOLv1": (23.19, .859), "Average": (30.83, .919)},
    # Table 3: CDD11 composited degradations
    3: {"L": (27.60, .837), "H": (34.44, .991), "R": (35.33, .973), "S": (36.85, .981),
        "L+H": (26.95, .834), "L+R": (26.80, .817), "L+S": (26.73, .809), "H+R": (31.17, .968),
        "H+S": (31.40, .972), "L+H+R": (25.59, .801), "L+H+S": (25.86, .799), "Average": (29.97, .891)},
    # Table 4: 4-task adverse weather removal (AllWeather)
    4: {"Snow100K-S": (37.97, .968), "Snow100K-L": (32.49, .930), "Outdoor-Rain": (32.70, .945),
        "RainDrop": (32.66, .944), "Average": (33.92, .947)},
    # Table 5: real-world WeatherBench
    5: {"Dehaze": (23.74, .739), "Derain": (35.86, .946), "Desnow": (29.42, .868), "Average": (29.68, .851)},
    # Table 6: 3-task medical image restoration (AMIR)
    6: {"MRI-Super-Resolution": (31.95, .938), "CT-Denoising": (33.67, .918),
        "PET-Synthesis": (37.27, .947), "Average": (34.30, .934)},
}
"""The ExDA rows of the paper's Tables 1-6: table number -> column -> (PSNR dB, SSIM)."""

EXDA_T_3DEG = (32.71, 0.919)
"""ExDA-T, the 6M model, on the three degradations (Sec. 4.2, Table 7's residual GELU row)."""

FIG5_ARMS = (  # Fig. 5's bars in its order (b, b + NV, b + GST, c + d): (arm, label, nonlinear value, GST)
    ("baseline", "baseline (Restormer-style)", False, False),
    ("nonlinear_value", "+ nonlinear value", True, False),
    ("gst", "+ GST", False, True),
    ("both", "+ both (ExDA)", True, True),
)
"""The one Fig. 5 arm table: ``arm`` names the reference runs (reference/runs/fig5), ``label`` the course's bars."""

# What the paper's *text* states for Fig. 5's bars (3-degradation average PSNR / SSIM). The other
# bars are only drawn in the figure; the text gives the direction, quoted in ``claim``.
_FIG5_TEXT = {
    "baseline": {"psnr": None, "ssim": None, "claim": "baseline 'b' (PromptIR without prompts)",
                 "source": "figure only"},
    "nonlinear_value": {"psnr": None, "ssim": None, "claim": "'provides a clear gain'", "source": "figure only"},
    "gst": {"psnr": None, "ssim": None, "claim": "'yields consistent improvements'", "source": "figure only"},
    "both": {"psnr": TABLES[1]["Average"][0], "ssim": TABLES[1]["Average"][1],
             "claim": "'achieves the best performance'", "source": "Sec. 4.2 text (= Table 1, ExDA average)"},
}
FIG5: dict[str, dict] = {label: _FIG5_TEXT[arm] for arm, label, _, _ in FIG5_ARMS}
"""Fig. 5's bars by label: the PSNR / SSIM the text states (None: drawn only) and the claim."""
# Related numbers the text does state: PromptIR *with* prompts (Fig. 5's 'a', Table 1) and the Tiny model.
CONTEXT = {"PromptIR with prompts (Table 1 average)": (32.06, 0.913),
           "ExDA-T, the 6M model (Sec. 4.2, Table 7)": EXDA_T_3DEG}

# Fig. 6 as stated in the text (ms, the authors' GPU): (a) ExDA-T vs resolution, (b) latency vs model size.
FIG6 = {"resolution_ms": {256: 54.5, 1024: 840.1}, "model_ms": {"exda_t": 209.6, "exda_b": 385.5},
        "model_psnr": {"exda_t": EXDA_T_3DEG[0], "exda_b": TABLES[1]["Average"][0]}}

FIG7 = {"NMI without GST": 0.71, "NMI with GST": 0.88, "ARI without GST": 0.56, "ARI with GST": 0.89}
"""Fig. 7: how well the embeddings cluster by degradation, without and with GST."""

PAPER = {
    "span_synthetic.linear_minus_nonlinear": {
        "claim": "linear values converge worse than nonlinear ones", "where": "Sec. 3.2, Fig. 3a",
        "text": "'50.4 % worse convergence' (1.504x)", "value": 1.504, "kind": "ratio"},
    "span_synthetic.post_minus_nonlinear": {
        "claim": "a post-aggregation nonlinearity does worse than pre-aggregation", "where": "Sec. 3.1 (no experiment)",
        "text": "'cannot escape this fundamental limitation'", "value": None, "kind": "ratio"},
    "span_digits.nonlinear_minus_linear": {
        "claim": "nonlinear values restore corrupted digits better", "where": "Sec. 3.2, Fig. 3b",
        "text": "+5.92 dB (19.2 -> 25.1)", "value": 5.92, "kind": "difference"},
    "fig5.nonlinear_value_minus_baseline": {
        "claim": "+ nonlinear value beats the baseline", "where": "Sec. 4.2, Fig. 5",
        "text": "'provides a clear gain'", "value": None, "kind": "difference"},
    "fig5.gst_minus_baseline": {
        "claim": "+ GST beats the baseline", "where": "Sec. 4.2, Fig. 5",
        "text": "'yields consistent improvements'", "value": None, "kind": "difference"},
    "fig5.both_minus_baseline": {
        "claim": "both primitives beat the baseline", "where": "Sec. 4.2, Fig. 5",
        "text": "'achieves the best performance'", "value": None, "kind": "difference"},
}
for _key in ("nonlinear_value_minus_baseline", "gst_minus_baseline", "both_minus_baseline"):
    PAPER[f"fig5_pool.{_key}"] = {**PAPER[f"fig5.{_key}"], "claim": PAPER[f"fig5.{_key}"]["claim"] + " (powered)"}
for _arm, _psnr in {"inplace_sigmoid": 32.30, "residual_sigmoid": 32.63, "inplace_gelu": 32.45,
                    "nonparametric_gelu": 32.30, "first_half_only": 32.65, "second_half_only": 32.60}.items():
    PAPER[f"table7.{_arm}_minus_residual_gelu"] = {
        "claim": f"Table 7: {_arm.replace('_', ' ')} is worse than residual GELU", "where": "Table 7",
        "text": f"{_psnr - 32.71:+.2f} dB ({_psnr} vs 32.71)", "value": round(_psnr - 32.71, 2), "kind": "difference"}
for _stride, _psnr in {1: 32.45, 4: 32.52, 8: 32.40}.items():  # Sec. 4, "GST Configuration" (s = 2: 32.71 dB)
    PAPER[f"gst_strides.stride_{_stride}_minus_stride_2"] = {
        "claim": f"GST stride {_stride} is worse than stride 2", "where": "Sec. 4, GST configuration; Fig. B",
        "text": f"{_psnr - 32.71:+.2f} dB ({_psnr} vs 32.71)", "value": round(_psnr - 32.71, 2), "kind": "difference"}
for _key in [k for k in PAPER if k.startswith(("table7.", "gst_strides."))]:  # the same claims, powered
    _name, _comparison = _key.split(".")
    PAPER[f"{_name}_pool.{_comparison}"] = {**PAPER[_key], "claim": PAPER[_key]["claim"] + " (powered)"}

for _arm in ("inplace_sigmoid", "nonparametric_gelu"):  # the confirmatory rerun of Table 7's two largest effects
    _key = f"{_arm}_minus_residual_gelu"
    PAPER[f"table7_confirm.{_key}"] = {**PAPER[f"table7.{_key}"],
                                       "claim": PAPER[f"table7.{_key}"]["claim"] + " (confirmatory)"}

PAPER["awareness.gst_minus_baseline"] = {
    "claim": "GST makes embeddings cluster by degradation (NMI)", "where": "Sec. 4, Fig. 7",
    "text": "NMI 0.71 -> 0.88 (+0.17)", "value": 0.17, "kind": "difference", "unit": "NMI"}
PAPER["awareness.ari_gst_minus_baseline"] = {
    "claim": "GST makes embeddings cluster by degradation (ARI)", "where": "Sec. 4, Fig. 7",
    "text": "ARI 0.56 -> 0.89 (+0.33)", "value": 0.33, "kind": "difference", "unit": "ARI"}
PAPER["awareness.both_minus_nonlinear_value"] = {
    "claim": "GST makes embeddings cluster by degradation, nonlinear value on (NMI)", "where": "Sec. 4, Fig. 7",
    "text": "NMI 0.71 -> 0.88 (+0.17)", "value": 0.17, "kind": "difference", "unit": "NMI"}
for _key in ("gst_minus_baseline", "ari_gst_minus_baseline", "both_minus_nonlinear_value"):
    PAPER[f"awareness_pool.{_key}"] = {**PAPER[f"awareness.{_key}"],
                                       "claim": PAPER[f"awareness.{_key}"]["claim"] + " (powered models)"}

for _name, _unit in (("span_ladder", "ratio"), ("digits_ladder", "difference")):
    for _rung in ("attention_only", "groupnorm", "layernorm", "gdfn", "restormer_block"):
        _key = (f"{_rung}.linear_minus_{_rung}.nonlinear" if _unit == "ratio"
                else f"{_rung}.nonlinear_minus_{_rung}.linear")
        PAPER[f"{_name}.{_key}"] = {
            "claim": f"{'tone curve' if _unit == 'ratio' else 'tone-curve digits'}, {_rung.replace('_', ' ')}: "
                     "linear values are limited", "where": "Sec. 3.1 (the argument covers any MDTA network)",
            "text": "linear values are confined to span(X)", "value": None, "kind": _unit}
for _arm, _control, _claim in (("mdta", "local_only", "the flat_noise task rewards global information (check)"),
                               ("gst_rms", "mdta", "GST (RMS-scaled token rows) adds to MDTA (pre-registered)"),
                               ("gst_rms", "uniform_rms", "the gain needs content-adaptive maps (pre-registered)"),
                               ("gst", "mdta", "GST as Algorithm 1 gives it adds to MDTA (pre-registered)")):
    PAPER[f"gst_mechanism.{_arm}_minus_{_control}"] = {
        "claim": _claim, "where": "Sec. 3.3 (GST captures global degradation context)",
        "text": "GST helps where global context matters", "value": None, "kind": "difference"}

EXACT = {
    "linearity.linear_values": "App. C, Eq. 6-7: the output is linear in X for a fixed A",
    "linearity.gelu_g": "Sec. 3.2, Eq. 8-10: V + g(V) with a GELU makes it nonlinear",
    "linearity.post_aggregation": "Sec. 3.1: a post-aggregation nonlinearity 'cannot escape' (stays confined)",
}


def claim(key: str) -> dict:
    """The paper's entry for ``key`` (KeyError names the known keys)."""
    if key not in PAPER:
        raise KeyError(f"no paper number {key!r}; known: {sorted(PAPER)}")
    return PAPER[key]
