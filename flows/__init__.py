"""uschina-digest: ingest, classify and digest news on US–China relations."""
