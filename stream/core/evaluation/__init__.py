"""Evaluation: a compiled plan, each contact's state, windows, deadlines and the engine step."""
