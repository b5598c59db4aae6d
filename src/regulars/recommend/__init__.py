"""Recommendations: buy-again, cross-sell, fallbacks, offers, and their evaluation."""
