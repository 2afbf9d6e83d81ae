"""One measurement of bench.run alone, for trying a change to bot/ quickly."""
