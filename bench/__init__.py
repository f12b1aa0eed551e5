"""Benchmark material that is not product code: the baseline yardstick and the results (`make bench`)."""
