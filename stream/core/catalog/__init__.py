"""The segment catalog: plain-English criteria and what each segment reads and refers to."""
