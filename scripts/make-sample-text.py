#!/usr/bin/env python3
"""Rebuilds data/sample/python-reference.txt: the text of the Python Language Reference topics
that CPython ships as pydoc_data.topics (PSF License 2.0). Stand-in sample text until the
MiniPile-layout sample of issue 4 lands.

    python3 scripts/make-sample-text.py
"""
import pathlib
import sys

import pydoc_data.topics as topics

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "data" / "sample" / "python-reference.txt"
out.parent.mkdir(parents=True, exist_ok=True)
text = "\n\n".join(topics.topics[name].strip() for name in sorted(topics.topics)) + "\n"
out.write_text(text, encoding="utf-8")
print(f"wrote {out} ({len(text.encode())} bytes) from Python {sys.version.split()[0]}")
