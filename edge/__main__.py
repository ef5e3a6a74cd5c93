"""``python -m edge``: run the edge role standalone (see ``edge.server``)."""

from edge.server import run

run()
