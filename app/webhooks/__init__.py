"""Outbound webhook endpoints, deliveries and the delivery worker."""
