"""``python -m stkpi_tools.cli``: the same as the ``stkpi`` command."""

from stkpi_tools.cli import main

main()
