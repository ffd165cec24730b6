"""On-demand benchmarks of sitless (never part of the test suite).

``python -m bench`` runs them all and prints a table; ``docs/performance.md`` explains
the figures and the commands that reproduce each one. Generated recordings are cached
in ``bench/out/`` (git-ignored).
"""

__all__: list[str] = []
