"""The kit every domain may use and that uses no domain: config, db, problems, pagination, crypto, HTTP helpers."""
