"""Faust wiring: app factory, topics, codecs, tables, agents, timers."""
