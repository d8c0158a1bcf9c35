"""Billing: plans, Stripe subscriptions (checkout, portal, webhook) and monthly quotas."""
