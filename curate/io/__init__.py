"""Manifest, tables, media probing and hashing, ingest, atomic writes, the cache."""
