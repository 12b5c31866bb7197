"""The paper's claims that the reference experiments test; they are written in ``exda_lite.paper``."""

from ..paper import EXACT, PAPER, claim

__all__ = ["EXACT", "PAPER", "claim"]
