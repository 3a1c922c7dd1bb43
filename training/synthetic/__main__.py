"""``python -m training.synthetic --out DIR ...``: generate a synthetic world (see ``training.synthetic``)."""

import sys

from .cli import main

sys.exit(main())
