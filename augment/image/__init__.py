"""The image plugin and curaug's own image transforms."""
