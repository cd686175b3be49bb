"""Splitters, group/label assignment, scikit-learn cross-validators and split locks."""
