"""The service's figures for Prometheus: its own families, and the queue read at scrape time."""
