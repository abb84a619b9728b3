"""Local fake servers that follow each hosted provider's documented API (request and response shapes,
error bodies, 429 with ``retry-after``, slow, failing and cancelled jobs), on loopback."""
