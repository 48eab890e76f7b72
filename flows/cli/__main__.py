"""`python -m flows.cli` runs the `uschina-digest` command."""

from flows.cli import main

main()
