"""`python -m console` is the `mailconsole` command."""

from console.cli import main

main()
