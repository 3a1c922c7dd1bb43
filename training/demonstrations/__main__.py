"""``python -m training.demonstrations {scene,find,score,evaluate}``: see ``training.demonstrations.cli``."""

from hotspot_core import cli

from .cli import main

cli.run(main)
