"""SQLAlchemy 2 persistence: one schema on SQLite (embedded default) and PostgreSQL."""
