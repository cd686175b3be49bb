"""Augmentation: the plugin contract, seeds and provenance, modality plugins, the runner."""
