"""Compatibility entry point: ``python -m training.evaluate_dan`` runs ``training.dan.evaluate``, which replaced it."""

from hotspot_core import cli

from .dan.evaluate import main

if __name__ == "__main__":
    cli.run(main)
