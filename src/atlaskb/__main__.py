"""`python -m atlaskb` runs the CLI."""

from atlaskb.cli import main

main()
