"""`python -m remediator` is the `remediator` command."""

from .cli import main

main()
