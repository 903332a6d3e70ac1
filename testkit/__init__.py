"""What the tests and the benchmarks both use, so neither tree imports the other: where the shared real data
lives (``shared_data``), hostile inputs built in code (``hostile``) and in-memory zips (``zips``)."""
