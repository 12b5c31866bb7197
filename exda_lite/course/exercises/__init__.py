"""Auto-checked exercises: ``check(name, student_function)`` and the catalogue ``EXERCISES``.

* ``checker``      ``Exercise`` and ``check``: run, compare, diagnose known mistakes
* ``model_nbs``    notebooks 01-06: heads, MDTA, span, pipeline, PSNR, Eq. 1, GST, U-Net shapes
* ``training_nbs`` notebooks 07-09: Fourier loss, schedule, tile blending, Welch's t, band energy
* ``course_nbs``   notebooks 02-09: paired t (02), SSIM (03), ExDA attention (06, capstone), a training step,
                   NMI from a table
* ``mechanism_nbs`` the mechanism (issue 21): MDTA with linear values as a per-image 1x1 conv (01)
* ``verdict_nbs``   the student's verdict: paired difference, 95 % CI and a rule fixed in advance (08)
"""

from . import course_nbs, mechanism_nbs, model_nbs, training_nbs, verdict_nbs
from .checker import CATALOGUE, Exercise, check, diagnose, reset_attempts, same

CATALOGUE.update({**model_nbs.EXERCISES, **training_nbs.EXERCISES, **course_nbs.EXERCISES,
                  **mechanism_nbs.EXERCISES, **verdict_nbs.EXERCISES})
EXERCISES: dict[str, Exercise] = CATALOGUE  # the one dict check() looks names up in

__all__ = ["EXERCISES", "Exercise", "check", "diagnose", "reset_attempts", "same"]
