"""``python -m mmo``."""

from mmo.cli.entry import run

run()
