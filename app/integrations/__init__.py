"""A tenant's courier accounts (integrations) and their encrypted credentials."""
