"""courier-hub: multi-tenant courier-integration backend."""
