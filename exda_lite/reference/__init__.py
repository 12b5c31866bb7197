"""Converged reference experiments: train once, commit the numbers, show them beside every teaching run.

The notebooks' live runs are short (<= 3 min on a laptop CPU), so their comparisons sit inside seed
noise. The reference runs the same experiments at a budget where the models have converged, over
5 paired seeds, and commits the results to ``reference/`` at the repository root:

    python -m exda_lite.reference run [NAME ...] [--seeds 0 1 2 3 4] [--device cpu] [--out reference]
    python -m exda_lite.reference list

* ``experiments``  what each experiment trains and measures (the registry ``EXPERIMENTS``)
* ``runner``       one cached JSON per finished run, resumable training state, the convergence rule
* ``stats``        paired differences with a 95 % t confidence interval, and the verdict in words
* ``display``      what a notebook calls (``show``): this run | the reference | the paper, side by side
* ``paper``        the paper's numbers, in one table with section and table references
"""

from .display import ladder_reading, ladder_table, load_reference, plot_ladder, reference_dir, show

__all__ = ["ladder_reading", "ladder_table", "load_reference", "plot_ladder", "reference_dir", "show"]
