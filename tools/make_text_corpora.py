"""Rebuild the text corpora funcnet ships in funcnet/data/corpora/ (run once, by hand).

    python tools/make_text_corpora.py          # needs CPython 3.11.7's standard library

Both corpora are snapshots of CPython 3.11.7 (PSF License Version 2; see
funcnet/data/corpora/LICENSE.md), stored xz-compressed so that every machine and every
Python version reads the same text:

- ``python``: the sources of a fixed list of pure-Python standard-library modules (all
  ASCII), each after a ``# ===== Lib/<path> =====`` line: about 1.1 MB of code with
  comments and docstrings, for character language models;
- ``python_docs``: the Python Language Reference topics that ``help()`` shows
  (``pydoc_data.topics``), in sorted order: about 0.47 MB of English prose.

It prints the SHA-256 of each text, which funcnet/data/text.py's CORPORA must list.
"""

import hashlib
import lzma
import sys
import sysconfig
from pathlib import Path

VERSION = (3, 11, 7)

# Sorted, ASCII-only modules: a small alphabet (the 95 printable characters and the
# newline) keeps a character model's softmax small.
PYTHON_MODULES = [
    "abc.py",
    "argparse.py",
    "ast.py",
    "base64.py",
    "bisect.py",
    "calendar.py",
    "collections/__init__.py",
    "configparser.py",
    "contextlib.py",
    "copy.py",
    "csv.py",
    "dataclasses.py",
    "enum.py",
    "fnmatch.py",
    "glob.py",
    "gzip.py",
    "hashlib.py",
    "json/__init__.py",
    "json/decoder.py",
    "json/encoder.py",
    "numbers.py",
    "operator.py",
    "os.py",
    "pathlib.py",
    "pprint.py",
    "queue.py",
    "random.py",
    "sched.py",
    "secrets.py",
    "shutil.py",
    "string.py",
    "tempfile.py",
    "textwrap.py",
    "threading.py",
    "timeit.py",
    "tokenize.py",
    "traceback.py",
    "types.py",
    "uuid.py",
    "warnings.py",
    "weakref.py",
]

OUT = Path(__file__).resolve().parent.parent / "funcnet" / "data" / "corpora"


def python_corpus() -> str:
    lib = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in PYTHON_MODULES:
        text = (lib / name).read_text(encoding="ascii")
        parts.append(f"# ===== Lib/{name} =====\n{text.rstrip()}\n")
    return "\n".join(parts)


def python_docs_corpus() -> str:
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip() + "\n" for key in sorted(topics))


def main():
    if sys.version_info[:3] != VERSION:
        sys.exit(f"needs Python {'.'.join(map(str, VERSION))}, this is {sys.version.split()[0]}")
    for name, text in (("python", python_corpus()), ("python_docs", python_docs_corpus())):
        data = text.encode("utf-8")
        packed = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
        (OUT / f"{name}.txt.xz").write_bytes(packed)
        digest = hashlib.sha256(data).hexdigest()
        print(f"{name}: {len(text)} characters, {len(packed)} bytes compressed, sha256 {digest}")


if __name__ == "__main__":
    main()
