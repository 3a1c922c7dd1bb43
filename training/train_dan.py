"""Compatibility entry point: ``python -m training.train_dan`` runs ``training.dan.train``, which replaced it."""

from hotspot_core import cli

from .dan.train import main

if __name__ == "__main__":
    cli.run(main)
