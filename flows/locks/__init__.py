"""Locks: named, expiring leases so two ingests (or two digests) never overlap.

`leases` is the lease row in the store (take, renew, release in one statement each); `guard` is what
a run holds: the lease with its heartbeat, shared by the shards of one fanned-out ingest.
"""
