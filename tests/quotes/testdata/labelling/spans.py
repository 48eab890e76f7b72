import json
import sys

OPEN = "\u201c"
CLOSE = "\u201d"


def spans(text):
    """(start, end) of double-quoted spans within paragraphs (lines); unclosed run to line end."""
    out = []
    pos = 0
    for line in text.split("\n"):
        i = 0
        n = len(line)
        while i < n:
            c = line[i]
            if c == OPEN or c == '"':
                # find close
                j = i + 1
                while j < n and line[j] not in (CLOSE, '"') and not (line[j] == OPEN):
                    j += 1
                if j < n and line[j] == OPEN:  # a new opening: the previous is unclosed up to here
                    out.append((pos + i, pos + j, False))
                    i = j
                    continue
                if j >= n:
                    out.append((pos + i, pos + n, False))
                    i = n
                    break
                out.append((pos + i, pos + j + 1, True))
                i = j + 1
                continue
            i += 1
        pos += len(line) + 1
    return out


if __name__ == "__main__":
    text = (
        open(sys.argv[1]).read()
        if not sys.argv[1].startswith("gt:")
        else json.load(open("/work/shared/fixtures/pages/ground-truth.json"))[sys.argv[1][3:]]["articleBody"]
    )
    sp = spans(text)
    out = []
    last = 0
    for k, (s, e, closed) in enumerate(sp, 1):
        out.append(text[last:s])
        out.append(f"[Q{k}>")
        out.append(text[s:e])
        out.append(f"<Q{k}]")
        last = e
    out.append(text[last:])
    print("".join(out))
