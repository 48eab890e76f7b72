"""Search the archive: the query language (`query`), results grouped by story with escaped,
highlighted snippets (`results`), and the sides of outlets (`sides`). The SQL is in
`flows.store.search`."""
