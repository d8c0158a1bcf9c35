"""The one request pipeline: principal, tenant session, role aliases, idempotent POSTs, rate limits, middleware."""
