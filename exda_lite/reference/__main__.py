import sys

from .runner import entry

sys.exit(entry())
