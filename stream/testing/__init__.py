"""Builders, fixed clocks and fakes shared by tests and users."""
