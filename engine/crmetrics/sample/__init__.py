"""Bundled sample data, written by ``scripts/generate_sample.py`` (deterministic)."""
