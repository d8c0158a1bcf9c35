"""Rate limits: per API key and per tenant from the tenant's plan, failed authentications per client address."""
