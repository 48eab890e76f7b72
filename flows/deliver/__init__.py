"""Delivery: building the email, sending it over SMTP, and the exactly-once outbox."""
