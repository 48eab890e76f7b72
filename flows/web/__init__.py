"""The web reader (`uschina-digest web`): a small server-rendered Starlette site over the store and
the digest archive; see `app`."""
