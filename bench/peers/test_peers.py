"""Tests of the peers bench on real bytes of shared/data (skipped, with the reason, when it is absent
or when the peers' venv is not the interpreter).

Run: .venv-peers/bin/python -m unittest discover -s bench/peers -p 'test_*.py' -v     (a few seconds)
"""

import argparse
import gzip
import importlib.util
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402
import run_peers  # noqa: E402

DATA = run_peers.shared_data_dir()
HAVE_PEERS = all(importlib.util.find_spec(m) for m in ("fastwarc", "resiliparse", "warcio"))


def math_page(name: str) -> str:
    return gzip.decompress((DATA / "html-math" / "math" / name).read_bytes()).decode("utf-8", "replace")


class TokenF1(unittest.TestCase):
    def test_definition(self):
        self.assertEqual(quality.token_f1("", ""), 1.0)
        self.assertEqual(quality.token_f1("a b", "c d"), 0.0)
        # ours: a a b (3), truth: A c (2); common min(2,1)=1 -> p=1/3, r=1/2, F1=0.4 (case folded)
        self.assertAlmostEqual(quality.token_f1("a a b", "A c"), 0.4)


class CharF1(unittest.TestCase):
    def test_definition(self):
        # CJK characters one unit each, ASCII letter/digit runs one lowercased unit, whitespace none.
        self.assertEqual(quality.char_units("数学 Math2024，ok!"), ["数", "学", "math2024", "，", "ok", "!"])
        self.assertEqual(quality.char_f1("", ""), 1.0)
        self.assertEqual(quality.char_f1("甲乙", "丙"), 0.0)
        # ours: 数 学 题 (3), truth: 数 学 (2): common 2 -> p=2/3, r=1, F1=0.8; spaces ignored
        self.assertAlmostEqual(quality.char_f1("数学题", "数 学"), 0.8)


class Entities(unittest.TestCase):
    def test_as_eval_rs(self):
        self.assertEqual(quality.decode_entities("&lt;&#x41;&#66;&bogus;&amp &"), "<AB&bogus;&amp &")
        self.assertEqual(quality.decode_entities("&#xD800;"), "&#xD800;")  # a surrogate is no char


@unittest.skipIf(DATA is None, "shared/data not found (set CORPUSMINER_SHARED_DATA)")
class SourceFormulas(unittest.TestCase):
    """Expected values are eval.rs's `source_formulas` on the same pages (commit 1baa5d2); the port
    matched it on all 46 math pages (4,101 formulas, same order)."""

    def test_tex_delimiters_in_text(self):
        f = quality.source_formulas(math_page("mse-83pow27-plus1-prime.html.gz"))
        self.assertEqual(len(f), 38)
        self.assertEqual(f[0], "a^k+1\\equiv (-1)^k+1\\equiv 0\\pmod{a+1}")

    def test_mathml_annotation_unwrapped(self):
        f = quality.source_formulas(math_page("wikipedia-en-m-variance.html.gz"))
        self.assertEqual(len(f), 177)
        self.assertEqual(f[:2], ["\\sigma ^{2}", "s^{2}"])  # {\displaystyle ..} dropped

    def test_page_without_tex(self):
        self.assertEqual(quality.source_formulas(math_page("matrix67-probability-dice.html.gz")), [])


@unittest.skipIf(DATA is None or not HAVE_PEERS, "shared/data or the peers' venv (bench/peers/install.sh) absent")
class Pipelines(unittest.TestCase):
    """Each pipeline in its pinned subprocess on a real Common Crawl excerpt (16 HTML responses)."""

    def run_one(self, name):
        opts = argparse.Namespace(core=0, datatrove_timeout=1.0)
        f = str(DATA / "commoncrawl" / "resiliparse-CC-MAIN-2020-34-warcfile.warc.gz")
        return run_peers.run_pipeline(name, [f, f], None, opts)

    def test_floor_and_warcio_read_every_response(self):
        for name in ("floor", "warcio"):
            row = self.run_one(name)
            self.assertIsNone(row.get("error"), row.get("error"))
            self.assertEqual(row["pages"], 32, name)
            self.assertGreater(row["peak_rss_mb"], 5)
            self.assertGreater(row["pages_per_s"], 0)
            self.assertEqual(row["gzip_bytes"], 2 * 135_896)

    def test_resiliparse_extracts_text(self):
        row = self.run_one("resiliparse")
        self.assertIsNone(row.get("error"), row.get("error"))
        self.assertEqual(row["pages"], 32)
        self.assertGreater(row["text_chars"], 10_000)

    def test_missing_model_is_an_error_row(self):
        row = self.run_one("resiliparse_fasttext")
        self.assertIn("error", row)


if __name__ == "__main__":
    unittest.main()
