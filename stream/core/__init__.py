"""Pure segmentation engine: no I/O, no clock; `now` is always a parameter.

- `language/`: the rule language, definition files parsed and checked into a `RuleSet`.
- `evaluation/`: the compiled plan, contact state and its codec, windows, deadlines, the
  engine step and the deadline queue.
- `events.py` (messages in), `changes.py` (messages out), `timefmt.py`, `limits.py`.
- `replay.py`: the engine over a file of events, with event time as the clock.
"""
