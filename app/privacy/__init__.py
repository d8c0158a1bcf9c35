"""Data lifecycle: per-tenant retention, a customer's erasure (GDPR art. 17) and the erasure of deleted tenants."""
