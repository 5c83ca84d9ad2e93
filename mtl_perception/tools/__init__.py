"""Console entry points (train, evaluate, synthesize, bag evaluation, demo, benchmark)."""
