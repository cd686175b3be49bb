"""Dataset curation: the manifest, ingest, profiling, rules, cleaning and splits.

Submodules import their heavy dependencies lazily, so importing this package is cheap.
"""
