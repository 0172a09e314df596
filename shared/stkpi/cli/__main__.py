"""``python -m stkpi.cli``: the same as the ``stkpi`` command."""

from stkpi.cli import main

main()
