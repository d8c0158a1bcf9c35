"""Courier performance analytics: per-shipment rollups, reviews and ratings, rates, recommendations, network benchmark."""
