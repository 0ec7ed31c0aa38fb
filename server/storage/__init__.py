"""Storage: SQLAlchemy 2 async, SQLite (WAL) by default, dialect-neutral for PostgreSQL."""
