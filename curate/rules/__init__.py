"""The rules file: its schema and its compilation to Great Expectations."""
