#!/usr/bin/env python3
"""Trains a stand-in fastText math classifier for trying ``run_peers.py`` without the Rust side.

Positives: ``math/gsm8k-train.jsonl`` (question + answer, 7,473 docs), ``__label__math``.
Negatives: the non-empty, non-heading lines of ``negatives/wikitext-2-valid.txt``, ``__label__other``.
Text normalised as run_peers.py normalises pages: lowercased, newlines to spaces.
Writes a C++ fastText ``.bin`` (the format corpusminer trains). Defaults are small (dim 16, 100k
buckets: a ~6 MB model); ``--paper`` uses the paper's dim 256 / wordNgrams 3 / minCount 3 / epoch 3 /
lr 0.1 with fastText's default 2M buckets, a ~2 GB model like the one BASELINES.md measured.
For testing only: never commit the model.
"""

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_peers import shared_data_dir  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="model path to write (.bin)")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--paper", action="store_true", help="paper-sized model (dim 256, 2M buckets, ~2 GB)")
    opts = ap.parse_args()
    import fasttext

    data = opts.data or shared_data_dir()
    if data is None:
        ap.error("shared/data not found")
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731
    rows = []
    with open(data / "math" / "gsm8k-train.jsonl") as f:
        for line in f:
            d = json.loads(line)
            rows.append("__label__math " + norm(d["question"] + " " + d["answer"]))
    with open(data / "negatives" / "wikitext-2-valid.txt") as f:
        for line in f:
            t = line.strip()
            if t and not t.startswith("="):
                rows.append("__label__other " + norm(t))
    random.Random(0).shuffle(rows)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tmp:
        tmp.write("\n".join(rows) + "\n")
    try:
        if opts.paper:
            kw = dict(dim=256, lr=0.1, wordNgrams=3, minCount=3, epoch=3, bucket=2_000_000)
        else:
            kw = dict(dim=16, lr=0.5, wordNgrams=2, minCount=1, epoch=5, bucket=100_000)
        model = fasttext.train_supervised(tmp.name, verbose=0, thread=1, **kw)
    finally:
        os.unlink(tmp.name)
    model.save_model(opts.out)
    print(f"{opts.out}: {len(rows)} docs, labels {model.labels}, {os.path.getsize(opts.out) / 1e6:.1f} MB, {kw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
