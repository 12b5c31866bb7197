"""Shared pytest fixtures."""

import pytest
import torch


@pytest.fixture()
def one_thread():
    """One intra-op thread: tiny models are faster, and results do not depend on the machine's load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def close_figures():
    """Close the matplotlib figures a test leaves open (they would pile up over the session)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
