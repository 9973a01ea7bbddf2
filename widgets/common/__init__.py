"""Pieces every screen shares: entry lists, dialogs, and the header, screen bar and key bar."""
