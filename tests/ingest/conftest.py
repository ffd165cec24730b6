"""Fixtures for the ``ingest`` tests.

The codec and topic tests need no fixtures: they build their inputs with Hypothesis
strategies and small literal batches kept next to the tests that use them.
"""
