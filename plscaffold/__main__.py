"""Run the command line interface with ``python -m plscaffold``."""

from plscaffold.cli import main

main()
