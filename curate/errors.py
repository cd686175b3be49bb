"""Exceptions that carry a user-facing message."""


class CuraugError(Exception):
    """Bad input or usage: the CLI prints ``error: <message>`` on one line and exits 2.

    The message must name what is at fault (file, column, key, value) and, where it
    helps, what would be accepted instead.
    """
