"""Saved searches and their alerts: `config` reads config/alerts.yaml, `send` alerts new stories
that match, exactly once, through the digest's delivery log and outbox folder."""
