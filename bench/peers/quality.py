"""Extraction quality of the peers, with the definitions of corpusminer's
``services/pipeline/src/extract/eval.rs`` (``corpusminer eval-extraction``), so the numbers compare.

- Token F1: the bag of lowercased whitespace tokens of the extracted text against ``articleBody`` of
  ``html-extraction/ground-truth.json``, per page, averaged over the pages (an extractor that fails or
  returns nothing scores F1 against the empty text, as eval.rs does).
- Formula recall: on each ``html-math`` page labelled ``math`` in ``INDEX.tsv``, the distinct TeX
  formulas of the page's source (``source_formulas``, a line-by-line port of eval.rs's scanner) and the
  share of them that occur in the whitespace-collapsed extracted text; averaged over the pages with at
  least one source formula.
- Chinese character F1 (``char_f1``): on the pages of ``zh/html-extraction`` (magic-html's Chinese
  article and forum pages), the extracted text against the reference ``content`` as multisets of
  units: every non-whitespace character is one unit, except that a run of ASCII letters and digits
  is one unit (lowercased), so a CJK character weighs what an English word weighs; averaged over
  the pages, and over the article and forum pages separately (eval.rs ``char_f1``).

Where this port differs from eval.rs (all negligible on this data):
- Python ``str`` indexes code points where Rust indexes bytes; every delimiter searched is ASCII, so
  the same spans are found. Length limits (formula < 2000, ``$..$`` <= 300, img alt <= 24) are
  measured in UTF-8 bytes, as in Rust.
- Whitespace: Python's ``str.split()``/``isspace`` also treat U+001C..U+001F as whitespace, Rust's
  ``char::is_whitespace`` does not.
- The source is decoded as UTF-8 with U+FFFD for invalid bytes in both; Python replaces per byte
  where Rust replaces per maximal invalid sequence (only affects formulas holding invalid bytes).

The brief's looser rule for ``<img alt>`` ("contains a backslash command or ^/_ with braces") is NOT
used: eval.rs keeps an alt only on images whose tag names a TeX renderer (latex, codecogs, mimetex,
mathtex, mwe-math-fallback) and whose alt is short (<= 24 bytes) or holds one of ``\\ ^ _ { =``; this
port follows eval.rs so both sides count the same formulas. eval.rs also counts single-dollar
``$..$`` inline math (not money) and drops ``\\newcommand``-style macro definitions; so does this port.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def ascii_lower(s: str) -> str:
    """Lowercases A-Z only, so indexes into the result are indexes into ``s`` (Rust's
    ``to_ascii_lowercase``)."""
    return s.translate(_ASCII_LOWER)


def collapse_ws(s: str) -> str:
    """Runs of whitespace to one space, trimmed (eval.rs ``collapse_ws``)."""
    return " ".join(s.split())


def token_f1(ours: str, truth: str) -> float:
    """F1 of the bags of lowercased whitespace tokens of ``ours`` vs ``truth``; 1.0 when both are
    empty, 0.0 when they share no token (eval.rs ``token_f1``)."""

    def bag(s):
        m = {}
        for t in s.split():
            t = t.lower()
            m[t] = m.get(t, 0) + 1
        return m

    a, b = bag(ours), bag(truth)
    na, nb = sum(a.values()), sum(b.values())
    if na == 0 and nb == 0:
        return 1.0
    common = sum(min(v, b.get(k, 0)) for k, v in a.items())
    if common == 0:
        return 0.0
    p, r = common / na, common / nb
    return 2 * p * r / (p + r)


def char_units(s: str) -> list[str]:
    """The units of ``char_f1``: each non-whitespace character, except that a maximal run of ASCII
    letters and digits is one unit, lowercased (eval.rs ``char_units``)."""
    out, word = [], []
    for c in s:
        if c.isascii() and c.isalnum():
            word.append(c.lower())
            continue
        if word:
            out.append("".join(word))
            word = []
        if not c.isspace():
            out.append(c)
    if word:
        out.append("".join(word))
    return out


def char_f1(ours: str, truth: str) -> float:
    """F1 of the multisets of ``char_units`` of ``ours`` vs ``truth``; 1.0 when both are empty,
    0.0 when they share no unit (eval.rs ``char_f1``)."""
    from collections import Counter

    a, b = Counter(char_units(ours)), Counter(char_units(truth))
    na, nb = sum(a.values()), sum(b.values())
    if na == 0 and nb == 0:
        return 1.0
    common = sum((a & b).values())
    if common == 0:
        return 0.0
    p, r = common / na, common / nb
    return 2 * p * r / (p + r)


def _braces_balanced(s: str) -> bool:
    depth, esc = 0, False
    for c in s:
        if c == "\\" and not esc:
            esc = True
            continue
        if c == "{" and not esc:
            depth += 1
        elif c == "}" and not esc:
            depth -= 1
            if depth < 0:
                return False
        esc = False
    return depth == 0


def strip_style_wrapper(tex: str) -> str:
    """Drops MediaWiki's ``{\\displaystyle ..}`` / ``{\\textstyle ..}`` / ``{\\scriptstyle ..}``
    wrapper around a whole formula (eval.rs via ``math::strip_style_wrapper``)."""
    t = tex.strip()
    for p in ("{\\displaystyle", "{\\textstyle", "{\\scriptstyle"):
        if t.startswith(p):
            inner = t[len(p):]
            if inner.endswith("}"):
                inner = inner[:-1]
                if _braces_balanced(inner):
                    return inner.strip()
    return t


_HEX = re.compile(r"\+?[0-9A-Fa-f]+")
_DEC = re.compile(r"\+?[0-9]+")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\u00a0"}


def _char(code: int):
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def decode_entities(s: str) -> str:
    """Decodes ``&lt; &gt; &amp; &quot; &apos; &nbsp;`` and numeric entities whose ``;`` is within
    12 bytes of the ``&``; anything else is kept as is (eval.rs ``decode_entities``)."""
    if "&" not in s:
        return s
    out = []
    i, n = 0, len(s)
    while True:
        p = s.find("&", i)
        if p < 0:
            break
        out.append(s[i:p])
        window = s[p:p + 12]
        e = window.find(";")
        c = None
        if e >= 0:
            ent = s[p + 1:p + e]
            if ent in _NAMED:
                c = _NAMED[ent]
            elif ent.startswith(("#x", "#X")):
                if _HEX.fullmatch(ent[2:]):
                    c = _char(int(ent[2:], 16))
            elif ent.startswith("#"):
                if _DEC.fullmatch(ent[1:]):
                    c = _char(int(ent[1:]))
        if c is not None:
            out.append(c)
            i = p + e + 1
        else:
            out.append("&")
            i = p + 1
    out.append(s[i:n])
    return "".join(out)


def strip_markup(html: str, lower: str) -> str:
    """The text outside tags, comments, scripts and styles; each removed piece becomes one space
    (eval.rs ``strip_markup``)."""
    out = []
    i, n = 0, len(html)
    while i < n:
        if html[i] == "<":
            skip_to = None
            if lower.startswith("<!--", i):
                e = lower.find("-->", i)
                skip_to = e + 3 if e >= 0 else None
            elif lower.startswith("<script", i):
                e = lower.find("</script", i)
                skip_to = e + 8 if e >= 0 else None
            elif lower.startswith("<style", i):
                e = lower.find("</style", i)
                skip_to = e + 7 if e >= 0 else None
            if skip_to is None:
                e = lower.find(">", i)
                skip_to = n if e < 0 else e + 1
            out.append(" ")
            i = skip_to
        else:
            e = lower.find("<", i)
            nxt = n if e < 0 else e
            out.append(html[i:nxt])
            i = nxt
    return "".join(out)


_MACRO_DEFS = ("\\newcommand", "\\renewcommand", "\\def\\", "\\DeclareMathOperator")
_IMG_RENDERERS = ("latex", "codecogs", "mimetex", "mathtex", "mwe-math-fallback")


def _blen(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


def source_formulas(html: str) -> list[str]:
    """The distinct TeX formulas of raw HTML, found without a parser, in eval.rs's order: contents of
    ``<script type="math/tex...">``, ``<annotation encoding="application/x-tex">`` (or tex, text/x-latex,
    latex), MathML ``alttext="..."``, ``alt`` of ``<img>`` tags naming a TeX renderer, then ``\\(..\\)``,
    ``\\[..\\]``, ``$$..$$`` and single ``$..$`` in the text outside tags/scripts/styles/comments.
    Each is entity-decoded, unwrapped of ``{\\displaystyle ..}``, whitespace-collapsed; empty ones and
    macro definitions are dropped."""
    found: list[str] = []
    seen: set[str] = set()

    def add(s: str):
        f = collapse_ws(strip_style_wrapper(decode_entities(s)))
        if f and not f.startswith(_MACRO_DEFS) and f not in seen:
            seen.add(f)
            found.append(f)

    lower = ascii_lower(html)
    # math/tex scripts
    i = 0
    while True:
        s = lower.find("<script", i)
        if s < 0:
            break
        gt = lower.find(">", s)
        if gt < 0:
            break
        open_tag = lower[s:gt]
        cs = gt + 1
        ce = lower.find("</script", cs)
        if ce < 0:
            break
        if "math/tex" in open_tag:
            add(html[cs:ce])
        i = ce
    # x-tex annotations
    i = 0
    while True:
        s = lower.find("<annotation", i)
        if s < 0:
            break
        gt = lower.find(">", s)
        if gt < 0:
            break
        open_tag = lower[s:gt]
        cs = gt + 1
        ce = lower.find("</annotation", cs)
        if ce < 0:
            break
        parts = open_tag.split("encoding=")
        enc = (parts[1] if len(parts) > 1 else "").lstrip("\"'")
        if enc.startswith(("application/x-tex", "tex", "text/x-latex", "latex")):
            add(html[cs:ce])
        i = ce
    # MathML alttext
    for m in re.finditer(re.escape('alttext="'), lower):
        vs = m.start() + 9
        ve = html.find('"', vs)
        if ve >= 0:
            add(html[vs:ve])
    # formula images
    for m in re.finditer("<img", lower):
        p = m.start()
        gt = lower.find(">", p)
        if gt < 0:
            continue
        tag, tl = html[p:gt], lower[p:gt]
        if not any(k in tl for k in _IMG_RENDERERS):
            continue
        a = tl.find(' alt="')
        if a >= 0:
            vs = a + 6
            ve = tag.find('"', vs)
            if ve >= 0:
                alt = tag[vs:ve]
                if _blen(alt) <= 24 or any(c in alt for c in "\\^_{="):
                    add(alt)
    # TeX delimiters in the text
    text = decode_entities(strip_markup(html, lower))
    for op, cl in (("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$")):
        i = 0
        while True:
            p = text.find(op, i)
            if p < 0:
                break
            s = p + len(op)
            e = text.find(cl, s)
            if e < 0:
                break
            inner = text[s:e]
            if inner.strip() and _blen(inner) < 2000:
                add(inner)
            i = e + len(cl)
    # single-dollar inline math: one line, non-space at both ends, not money
    t2 = text.replace("$$", "\x01\x01")
    i, n = 0, len(t2)
    while True:
        p = t2.find("$", i)
        if p < 0:
            break
        s = p + 1
        e_d, e_n = t2.find("$", s), t2.find("\n", s)
        cands = [x for x in (e_d, e_n) if x >= 0]
        if not cands:
            break
        e = min(cands)
        if t2[e] == "\n":
            i = e
            continue
        inner = t2[s:e]
        ok = (inner != "" and _blen(inner) <= 300 and not inner[0].isspace() and not inner[-1].isspace()
              and not ("0" <= inner[0] <= "9" and " " in inner))
        # eval.rs checks the byte before the `$` only when the search did not start at 0.
        if ok and (i == 0 or t2[p - 1] != "\\"):
            add(inner)
            i = e + 1
        else:
            i = e
    return found


# ---------------------------------------------------------------------------------------------
# The peers' extractors.
# ---------------------------------------------------------------------------------------------


def _resiliparse(main_content: bool):
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    def run(body: bytes) -> str:
        tree = HTMLTree.parse_from_bytes(body, detect_encoding(body))
        return extract_plain_text(tree, main_content=main_content)

    return run


def _trafilatura(**kw):
    import trafilatura

    def run(body: bytes) -> str:
        return trafilatura.extract(body, **kw) or ""

    return run


def _datatrove_trafilatura():
    """What datatrove's ``Trafilatura`` step calls: datatrove's WarcReader decodes bytes as UTF-8
    (else cchardet's guess) and passes the string with favor_precision=True, deduplicate=True."""
    import cchardet
    import trafilatura

    def run(body: bytes) -> str:
        try:
            html = body.decode("utf-8")
        except UnicodeDecodeError:
            enc = cchardet.detect(body)["encoding"]
            try:
                html = body.decode(enc) if enc else ""
            except (UnicodeDecodeError, LookupError):
                html = ""
        if not html:
            return ""
        return trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True) or ""

    return run


# name -> (factory, throughput pipelines that run this extraction)
EXTRACTORS = {
    "resiliparse_main": (lambda: _resiliparse(True), ("resiliparse", "resiliparse_fasttext")),
    "resiliparse_page": (lambda: _resiliparse(False), ()),
    "trafilatura": (lambda: _trafilatura(), ()),
    "trafilatura_datatrove": (_datatrove_trafilatura, ("datatrove",)),
}


def load_pages(data: Path):
    """(article pages [(key, html bytes, articleBody)], math pages [(INDEX path, html bytes)])."""
    gt = json.loads((data / "html-extraction" / "ground-truth.json").read_text())
    articles = []
    for key in sorted(gt):
        body = gzip.decompress((data / "html-extraction" / "html" / f"{key}.html.gz").read_bytes())
        articles.append((key, body, gt[key].get("articleBody") or ""))
    maths = []
    lines = (data / "html-math" / "INDEX.tsv").read_text().splitlines()[1:]
    for line in lines:
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"short INDEX.tsv row {line!r}")
        if cols[1] == "math":
            maths.append((cols[0], gzip.decompress((data / "html-math" / cols[0]).read_bytes())))
    return articles, maths


def load_zh_pages(data: Path):
    """The Chinese pages of ``zh/html-extraction`` as [(key, type, html bytes, content)], sorted by
    key; empty when the folder is absent. ``type`` is ``article`` or ``forum`` (its INDEX.tsv)."""
    root = data / "zh" / "html-extraction"
    if not (root / "ground-truth.json").is_file():
        return []
    gt = json.loads((root / "ground-truth.json").read_text())
    kinds = {}
    for line in (root / "INDEX.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"short zh INDEX.tsv row {line!r}")
        kinds[Path(cols[0]).name.removesuffix(".html.gz")] = cols[1]
    out = []
    for key in sorted(gt):
        body = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        out.append((key, kinds.get(key, "article"), body, gt[key].get("content") or ""))
    return out


def evaluate_zh(run, zh_pages) -> dict:
    """Chinese character F1 of one extractor ``run(bytes) -> str`` (an exception counts as empty
    text): mean over all pages, over article pages and over forum pages."""
    scores = {"article": [], "forum": []}
    for _, kind, body, truth in zh_pages:
        try:
            text = run(body) or ""
        except Exception:  # noqa: BLE001 - a failure on a page is a figure
            text = ""
        scores.setdefault(kind, []).append(char_f1(text, truth))
    mean = lambda v: round(sum(v) / len(v), 4) if v else None  # noqa: E731
    every = [x for v in scores.values() for x in v]
    return {"zh_char_f1": mean(every), "zh_char_f1_article": mean(scores["article"]),
            "zh_char_f1_forum": mean(scores["forum"]), "zh_pages": len(every)}


def evaluate(run, articles, maths, formulas) -> dict:
    """F1 and formula recall of one extractor ``run(bytes) -> str`` (exceptions count as empty
    text, under ``errors``)."""
    errors = 0
    elapsed = 0.0

    def ext(body):
        nonlocal errors, elapsed
        t0 = time.perf_counter()
        try:
            return run(body) or ""
        except Exception:  # noqa: BLE001 - a peer's failure on a page is a figure, not a crash
            errors += 1
            return ""
        finally:
            elapsed += time.perf_counter() - t0

    f1s = [token_f1(ext(body), truth) for _, body, truth in articles]
    recalls, kept_any, per_page = [], 0, []
    for (path, body), src in zip(maths, formulas):
        ours = collapse_ws(ext(body))
        found = sum(1 for f in src if f in ours)
        per_page.append((path, found, len(src)))
        if src:
            recalls.append(found / len(src))
            kept_any += found > 0
    mean = lambda v: sum(v) / len(v) if v else 0.0  # noqa: E731
    return {
        "f1": round(mean(f1s), 4),
        "formula_recall": round(mean(recalls), 4),
        "article_pages": len(f1s),
        "math_pages_with_formulas": len(recalls),
        "math_pages_with_a_formula_kept": kept_any,
        "extract_errors": errors,
        "extract_pages_per_s": round((len(articles) + len(maths)) / elapsed, 1) if elapsed else None,
        "per_math_page": per_page,
    }


def evaluate_peers(data: Path, names=None) -> list[dict]:
    """Runs every extractor of ``EXTRACTORS`` (or ``names``) on the shared data folder ``data``;
    one dict per extractor: extractor, pipelines, f1, formula_recall, the Chinese ``zh_char_f1``
    (all, ``_article``, ``_forum``; absent without ``zh/html-extraction``) and counts."""
    articles, maths = load_pages(data)
    zh_pages = load_zh_pages(data)
    formulas = [source_formulas(body.decode("utf-8", "replace")) for _, body in maths]
    out = []
    for name in names or EXTRACTORS:
        factory, pipelines = EXTRACTORS[name]
        run = factory()
        res = evaluate(run, articles, maths, formulas)
        res.pop("per_math_page")
        if zh_pages:
            res.update(evaluate_zh(run, zh_pages))
        out.append({"extractor": name, "pipelines": list(pipelines), **res})
    return out


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_peers import shared_data_dir

    d = Path(sys.argv[1]) if len(sys.argv) > 1 else shared_data_dir()
    for row in evaluate_peers(d):
        print(json.dumps(row))
