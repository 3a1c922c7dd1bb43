"""``python -m training.synthetic --out DIR ...``: generate a synthetic world (see ``training.synthetic``)."""

from hotspot_core import cli

from .cli import main

cli.run(main)
