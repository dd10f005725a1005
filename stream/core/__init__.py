"""Pure segmentation engine: rule language, contact state, time, the engine step. No I/O, no clock."""
