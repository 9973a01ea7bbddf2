"""Log files of the stack: discovery, huge-file line index, follow through rotation, search, highlighting."""
