"""Stories as others read them outside the digest: cards (headline, summary, sources, labels) for
feeds and alerts, and the Atom / JSON Feed documents written beside the archive and served by `web`."""
