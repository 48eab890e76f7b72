"""Build the document-frequency table that TF-IDF weights come from.

    python -m flows.stories.idf ../shared/eval/nyt-corpus.jsonl

reads JSON lines with `title` and `text` and writes `flows/stories/idf.tsv.gz` (first line
`#docs<TAB>N`, then `term<TAB>df` for terms seen in at least two documents). The table is
committed, so matching never depends on a corpus being present at run time.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from pathlib import Path

from flows.stories.features import terms

OUTPUT = Path(__file__).with_name("idf.tsv.gz")


def build(corpus: Path, output: Path = OUTPUT, min_df: int = 2) -> int:
    df: Counter[str] = Counter()
    n_docs = 0
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            df.update(set(terms(f"{row.get('title', '')}\n{row.get('text', '')}")))
            n_docs += 1
    lines = [f"#docs\t{n_docs}"] + [f"{t}\t{n}" for t, n in sorted(df.items()) if n >= min_df]
    output.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))
    return n_docs


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m flows.stories.idf CORPUS.jsonl")
    print(build(Path(sys.argv[1])), "documents")
