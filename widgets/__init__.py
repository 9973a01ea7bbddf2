"""mailconsole's Textual UI, on top of the headless core in console/."""
