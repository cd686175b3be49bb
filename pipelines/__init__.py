"""The CLI, pipeline runner, reports and training harness."""
