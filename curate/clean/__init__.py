"""Cleaning steps, anonymisation and normalisers."""
