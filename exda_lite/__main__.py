"""``python -m exda_lite ...`` is the ``exda-lite`` command (also under ``torchrun -m exda_lite``)."""

import sys

from .cli import main

sys.exit(main())
