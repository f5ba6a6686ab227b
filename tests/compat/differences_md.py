"""The README's list of accepted differences, made from differences.json.

    python3 tests/compat/differences_md.py            print the Markdown
    python3 tests/compat/differences_md.py --write    put it into README.md

README.md holds it between the two marker lines below; test_replay.py fails
when what is there differs from what this prints.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parents[1] / "README.md"
BEGIN = "<!-- differences from differences.json: begin -->"
END = "<!-- differences from differences.json: end -->"


def render(entries):
    out = []
    for e in entries:
        line = "- `%s`: %s. **Go:** %s. **Why:** %s" % (
            e["id"], e["fwatchdog_does"].rstrip("."), e["go"].rstrip("."), e["reason"].rstrip("."))
        if e.get("issue"):
            line += " (%s)" % e["issue"]
        out.append(line + ".")
    return "\n".join(out)


def block(entries):
    return BEGIN + "\n" + render(entries) + "\n" + END


def readme_block(text):
    """What README.md holds between the markers, markers included (None
    when they are missing)."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        return None
    return text[i:j + len(END)]


def main():
    entries = json.loads((HERE / "differences.json").read_text())["differences"]
    if "--write" not in sys.argv:
        print(block(entries))
        return 0
    text = README.read_text()
    old = readme_block(text)
    if old is None:
        print("README.md has no markers", file=sys.stderr)
        return 1
    README.write_text(text.replace(old, block(entries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
