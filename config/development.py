"""Development: the embedded default (SQLite in the instance folder, inline jobs)."""
DEBUG = False
