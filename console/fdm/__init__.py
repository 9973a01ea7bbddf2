"""fdm.conf: parse, lint, route (the live test) and save."""
