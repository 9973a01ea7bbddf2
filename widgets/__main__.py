"""`python -m widgets` is the `mailconsole` command."""

from widgets.launch import main

main()
