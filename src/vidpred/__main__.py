"""``python -m vidpred`` runs the command line (same as the ``vidpred`` script)."""
import sys

from .cli import main

sys.exit(main())
