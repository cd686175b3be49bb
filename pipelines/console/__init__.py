"""Terminal output: rich tables for summaries, a progress bar that stays quiet off a TTY,
one line per output written, and figures rounded for people (the JSON keeps them whole).

Each ``print_*`` summary also hands its figures to the command's ``--json`` option
(:func:`record_figures`); with ``--json -`` the JSON replaces the summary on stdout and
the lines saying where outputs went move to stderr.

One module per concern: :mod:`.output` (where lines and figures go), :mod:`.rounding`,
:mod:`.progress`, :mod:`.summaries` (the data commands), :mod:`.training` (a training run)."""
