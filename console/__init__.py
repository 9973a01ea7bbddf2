"""mailconsole's headless core: no Textual here, ever (tests/unit/test_headless.py checks it)."""

__version__ = "0.1.0"
