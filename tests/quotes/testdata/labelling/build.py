import json
import sys
import glob

sys.path.insert(0, "/tmp/lab")
from spans import spans

gt = json.load(open("/work/shared/fixtures/pages/ground-truth.json"))


def load(path):
    docs = {}
    for line in open(path):
        if not line.strip() or line.startswith("#"):
            continue
        doc, n, speaker = line.rstrip("\n").split(" ", 2)
        docs.setdefault(doc, {})[int(n)] = speaker
    return docs


def text_of(doc):
    if doc.startswith("seed:"):
        f = glob.glob(f"/work/wt20/seeds/{doc[5:]}_*.txt")[0]
        return "seeds/" + f.split("/")[-1], open(f, encoding="utf-8").read()
    key = next(k for k in gt if k.startswith(doc))
    return "pages:" + key, gt[key]["articleBody"]


for part, path, extra in (
    ("dev", "labels_dev.txt", ["seed:000", "seed:004"]),
    ("frozen", "labels_frozen.txt", []),
    ("frozen2", "labels_frozen2.txt", []),
):
    docs = load(path)
    for e in extra:
        docs.setdefault(e, {})
    out = open(f"/work/wt20/tests/quotes/testdata/labelled_{part}.jsonl", "w", encoding="utf-8")
    nq = 0
    for doc, labels in docs.items():
        source, text = text_of(doc)
        sp = spans(text)
        assert len(sp) == len(labels), (doc, len(sp), len(labels))
        quotes = []
        for n, (s, e, closed) in enumerate(sp, 1):
            lab = labels[n]
            kind = "not_quote" if lab == "-" else "open" if lab == "?" else "quote"
            quotes.append(
                {
                    "start": s,
                    "end": e,
                    "text": text[s:e],
                    "kind": kind,
                    "speaker": lab.split("|") if kind == "quote" else None,
                }
            )
            nq += kind == "quote"
        out.write(json.dumps({"source": source, "chars": len(text), "quotes": quotes}, ensure_ascii=False) + "\n")
    print(part, len(docs), "docs", nq, "attributed quotations")
