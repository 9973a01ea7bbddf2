"""The Logs screen: `view` (the screen and its workers), `lines` (the lines on screen), `files` (the list)."""
