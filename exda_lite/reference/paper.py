"""The paper's numbers that the course measures, with where they are stated.

One table, used by the reference experiments, the notebooks and the scoreboard. ``None``: the
paper states a direction but no number.
"""

from __future__ import annotations

PAPER = {
    "span_synthetic.linear_over_nonlinear": {
        "value": 1.504, "unit": "x final loss", "where": "Sec. 3.2, Fig. 3a ('50.4 % worse convergence')"},
    "span_synthetic.post_over_nonlinear": {
        "value": None, "unit": "x final loss", "direction": "> 1",
        "where": "Sec. 3.1 ('post-aggregation nonlinearity cannot escape this limitation'); no experiment"},
    "span_digits.nonlinear_minus_linear_db": {
        "value": 5.92, "unit": "dB PSNR", "where": "Sec. 3.2, Fig. 3b (19.2 -> 25.1 dB)"},
    "linearity.linear_g": {"value": 0.0, "unit": "superposition residual", "where": "App. C, Eq. 7"},
    "linearity.gelu_g": {"value": None, "unit": "superposition residual", "direction": "> 0",
                         "where": "App. C, Eq. 9-10"},
    "linearity.post_aggregation": {"value": 0.0, "unit": "superposition residual",
                                   "where": "Sec. 3.1 (claimed confined to the span)"},
}


def claim(key: str) -> dict:
    """The paper's entry for ``key`` (KeyError names the known keys)."""
    if key not in PAPER:
        raise KeyError(f"no paper number {key!r}; known: {sorted(PAPER)}")
    return PAPER[key]
