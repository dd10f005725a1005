"""Segment health: overlap between segments, churn, and the lint findings a marketer acts on."""
