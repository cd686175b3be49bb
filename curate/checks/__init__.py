"""Checks: the result types and registry, the built-in checks, and validate, which runs them."""
