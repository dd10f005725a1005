"""Pure segmentation engine: rules, contact state, time, the engine step. No I/O, no clock."""
