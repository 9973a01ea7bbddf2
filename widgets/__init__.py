"""mailconsole\x27s Textual UI, on top of the headless core in console/."""
