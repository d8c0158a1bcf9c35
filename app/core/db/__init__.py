"""Database: engines, tenant-scoped sessions, the embedded server, migrations."""
