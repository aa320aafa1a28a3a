#!/usr/bin/env python3
"""The peers side of corpusminer's performance comparison (BASELINES.md, "Throughput, one core").

Runs each peer pipeline in its own subprocess pinned to one core and measures, on WARC shards:
pages, seconds (imports and model loading excluded), pages/s, gzip MB/s (10^6 bytes of the
compressed input per second) and peak RSS (MiB, the child's ``ru_maxrss`` from ``wait4``, which
includes any process it forked and reaped, as ``/usr/bin/time -v`` reports it).

Pipelines (the PyPI versions pinned by ``install.sh``):

- ``floor``: fastwarc ``ArchiveIterator`` over response records, each body read (the read floor).
- ``warcio``: the same with warcio (``content_stream().read()``).
- ``resiliparse``: fastwarc + resiliparse ``detect_encoding`` + ``HTMLTree.parse_from_bytes`` +
  ``extract_plain_text(tree, main_content=True)``.
- ``resiliparse_fasttext``: the same + fastText ``predict`` of the lowercased text, newlines to spaces.
- ``datatrove``: ``WarcReader -> Trafilatura -> FastTextClassifierFilter`` iterated step by step in
  one process (what ``LocalPipelineExecutor`` with 1 task / 1 worker runs). Its reader drops records
  without ``WARC-Identified-Payload-Type`` whose bytes libmagic does not call text/html, silently:
  ``pages`` is what the reader yielded; ``response_records`` says how many it was given.

``--quality`` evaluates the peers' extractors the way ``services/pipeline/src/extract/eval.rs`` does
(see ``quality.py``) and adds ``f1``, ``formula_recall`` and the Chinese ``zh_char_f1`` to the JSON rows
of the extractors.

Usage (inside the venv made by ``install.sh``)::

    .venv-peers/bin/python bench/peers/run_peers.py --model model.bin \\
        --pipelines floor,warcio,resiliparse,resiliparse_fasttext,datatrove --json peers.json [--quality]

With no ``--input``, the input is ``shared/data/minicrawl/*.warc.gz`` repeated ``--repeat`` times
(default 24: 201 MB of gzip, 5,496 pages, as BASELINES.md). Exit status 1 when a pipeline failed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PIPELINES = ("floor", "warcio", "resiliparse", "resiliparse_fasttext", "datatrove")
NEEDS_MODEL = {"resiliparse_fasttext", "datatrove"}


def shared_data_dir() -> Path | None:
    """``$CORPUSMINER_SHARED_DATA`` when set, else the first ``shared/data`` holding ``PROVENANCE.md``
    beside this script or one of its ancestors (the rule of ``corpusminer_pipeline::testdata``)."""
    env = os.environ.get("CORPUSMINER_SHARED_DATA")
    if env:
        d = Path(env)
        return d if (d / "PROVENANCE.md").is_file() else None
    for a in [HERE, *HERE.parents]:
        d = a / "shared" / "data"
        if (d / "PROVENANCE.md").is_file():
            return d
    return None


# ---------------------------------------------------------------------------------------------
# Child side: one pipeline, in its own process. Prints one JSON line: {"pages", "seconds", ...}.
# ---------------------------------------------------------------------------------------------


class Clock:
    """Wall time and CPU time (user + system, of this process and of the children it reaped, such as
    datatrove's extraction sandbox) since construction. CPU seconds are the load-robust figure on a
    shared machine: wall seconds grow when other work shares the pinned core, CPU seconds hardly."""

    @staticmethod
    def _cpu():
        import resource

        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    def stop(self) -> dict:
        return {"seconds": time.perf_counter() - self.wall, "cpu_seconds": self._cpu() - self.cpu}


def _iter_response_bodies_fastwarc(files):
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    for path in files:
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
                yield rec.reader.read()


def child_floor(files, _model, _opts):
    import fastwarc.warc  # noqa: F401  (imported outside the timed region)

    clock = Clock()
    pages = body_bytes = 0
    for body in _iter_response_bodies_fastwarc(files):
        pages += 1
        body_bytes += len(body)
    return {"pages": pages, **clock.stop(), "body_bytes": body_bytes}


def child_warcio(files, _model, _opts):
    from warcio.archiveiterator import ArchiveIterator

    clock = Clock()
    pages = body_bytes = 0
    for path in files:
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type != "response":
                    continue
                body = rec.content_stream().read()
                pages += 1
                body_bytes += len(body)
    return {"pages": pages, **clock.stop(), "body_bytes": body_bytes}


def _resiliparse_text(body: bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse_from_bytes(body, detect_encoding(body))
    return extract_plain_text(tree, main_content=True)


def _load_fasttext(model_path):
    import fasttext

    return fasttext.load_model(model_path)


def child_resiliparse(files, model_path, _opts, with_fasttext=False):
    import fastwarc.warc  # noqa: F401
    import resiliparse.extract.html2text  # noqa: F401
    import resiliparse.parse.encoding  # noqa: F401
    import resiliparse.parse.html  # noqa: F401

    model = _load_fasttext(model_path) if with_fasttext else None
    clock = Clock()
    pages = chars = empty = 0
    math = 0
    for body in _iter_response_bodies_fastwarc(files):
        text = _resiliparse_text(body)
        pages += 1
        chars += len(text)
        empty += not text.strip()
        if model is not None:
            labels, probs = model.predict(text.lower().replace("\n", " "), k=-1)
            p_math = dict(zip(labels, probs)).get("__label__math", 0.0)
            math += int(p_math >= 0.5)
    out = {"pages": pages, **clock.stop(), "text_chars": chars, "empty_text": empty}
    if model is not None:
        out["p_math_ge_0.5"] = math
    return out


def child_resiliparse_fasttext(files, model_path, opts):
    return child_resiliparse(files, model_path, opts, with_fasttext=True)


def child_datatrove(files, model_path, opts):
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import FastTextClassifierFilter
    from datatrove.pipeline.readers import WarcReader
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    # How many response records the reader is given (read before timing, with the fast reader).
    responses = 0
    for path in files:
        with open(path, "rb") as f:
            responses += sum(1 for _ in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=False))

    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in files])
    rel = [os.path.relpath(os.path.abspath(p), root) for p in files]
    reader = WarcReader(root, glob_pattern="*.warc.gz")
    extractor = Trafilatura(timeout=opts.datatrove_timeout)
    # Every document is scored; keep_labels math >= 0.0 passes every non-empty one. (Annotation mode,
    # no keep/remove labels, crashes in datatrove 0.10.1: `self.keep_labels or [] + None`.)
    filt = FastTextClassifierFilter(model_path, keep_labels=("math", 0.0))
    _ = filt.model  # load the model outside the timed region
    import trafilatura  # noqa: F401

    read = [0]

    def docs():
        for p in rel:
            for d in reader.read_file(p):
                read[0] += 1
                yield d

    clock = Clock()
    out = 0
    for _doc in filt.run(extractor.run(docs(), 0, 1), 0, 1):
        out += 1
    timing = clock.stop()
    def counts(step):
        return {k: int(v.total) for k, v in step.stats.stats.items()}

    def step_seconds(step):
        return round(step.stats.time_stats.total, 3)

    # `pages` is the pages given to the pipeline (response records), as for the other pipelines and as
    # BASELINES.md counts them (15.7 pages/s x 36.6 KB/page = 0.58 gzip MB/s); `pages_read` is what
    # datatrove's reader passed on, the rest it dropped without a word.
    return {
        "pages": responses,
        **timing,
        "pages_read": read[0],
        "dropped_by_reader": responses - read[0],
        "output_docs": out,
        "extractor_counts": counts(extractor),
        "extractor_seconds": step_seconds(extractor),
        "reader_seconds": step_seconds(reader),
        "fasttext_seconds": step_seconds(filt),
    }


CHILD = {
    "floor": child_floor,
    "warcio": child_warcio,
    "resiliparse": child_resiliparse,
    "resiliparse_fasttext": child_resiliparse_fasttext,
    "datatrove": child_datatrove,
}


def child_main(opts) -> int:
    spec = json.loads(opts.child)
    res = CHILD[spec["pipeline"]](spec["files"], spec.get("model"), opts)
    print("RESULT " + json.dumps(res), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# Parent side.
# ---------------------------------------------------------------------------------------------


def run_pipeline(name, files, model, opts) -> dict:
    """Runs one pipeline in a fresh subprocess pinned to core ``opts.core``; returns its row."""
    spec = json.dumps({"pipeline": name, "files": files, "model": model})
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", spec,
           "--datatrove-timeout", str(opts.datatrove_timeout)]
    core = opts.core

    def pin():
        os.sched_setaffinity(0, {core})

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=pin, env=env, text=True)
    stdout, stderr = p.stdout.read(), p.stderr.read()  # a child never fills both pipes: stderr is small
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    gzip_bytes = sum(os.path.getsize(f) for f in files)
    row = {"pipeline": name, "pages": None, "seconds": None, "pages_per_s": None, "gzip_mb_per_s": None,
           "cpu_seconds": None, "pages_per_cpu_s": None, "peak_rss_mb": round(ru.ru_maxrss / 1024, 1), "gzip_bytes": gzip_bytes, "core": core}
    result = next((line[7:] for line in stdout.splitlines() if line.startswith("RESULT ")), None)
    if p.returncode != 0 or result is None:
        row["error"] = f"exit {p.returncode}: " + stderr.strip()[-2000:]
        return row
    res = json.loads(result)
    secs, cpu = res.pop("seconds"), res.pop("cpu_seconds")
    row.update(pages=res.pop("pages"), seconds=round(secs, 3))
    row["pages_per_s"] = round(row["pages"] / secs, 1) if secs > 0 else None
    row["gzip_mb_per_s"] = round(gzip_bytes / 1e6 / secs, 2) if secs > 0 else None
    row["cpu_seconds"] = round(cpu, 3)
    row["pages_per_cpu_s"] = round(row["pages"] / cpu, 1) if cpu > 0 else None
    row.update(res)
    return row


def print_table(rows, file=sys.stdout):
    """The rows as a text table: wall-clock rates, the CPU-time rate, peak RSS (MiB), quality."""
    w = max(22, *(len(r["pipeline"]) for r in rows))
    hdr = (f"{'pipeline':<{w}} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'gzip MB/s':>9} {'pages/cpu-s':>11} "
           f"{'peak RSS MB':>11} {'F1':>6} {'formula rec.':>12} {'zh char F1':>10}")
    print(hdr, file=file)
    print("-" * len(hdr), file=file)

    def fmt(v, f):
        return "-" if v is None else format(v, f)

    for r in rows:
        err = r.get("error")
        print(f"{r['pipeline']:<{w}} {fmt(r.get('pages'), 'd'):>6} {fmt(r.get('seconds'), '.2f'):>8} "
              f"{fmt(r.get('pages_per_s'), ',.1f'):>8} {fmt(r.get('gzip_mb_per_s'), '.2f'):>9} "
              f"{fmt(r.get('pages_per_cpu_s'), ',.1f'):>11} {fmt(r.get('peak_rss_mb'), ',.0f'):>11} "
              f"{fmt(r.get('f1'), '.3f'):>6} {fmt(r.get('formula_recall'), '.3f'):>12} {fmt(r.get('zh_char_f1'), '.3f'):>10}"
              + (f"  ERROR {err.splitlines()[-1] if err else ''}" if err else ""), file=file)
    for r in rows:
        if r.get("dropped_by_reader"):
            print(f"note: {r['pipeline']} read {r['pages_read']} of {r['pages']} pages; its reader dropped "
                  f"{r['dropped_by_reader']} silently (no WARC-Identified-Payload-Type, libmagic guess)", file=file)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", nargs="+", metavar="FILE", help="WARC .gz shards (default: minicrawl x --repeat)")
    ap.add_argument("--repeat", type=int, default=24, help="repetitions of the default input (default 24)")
    ap.add_argument("--data", type=Path, help="the shared data folder (default: found as the Rust tests find it)")
    ap.add_argument("--model", help="fastText supervised .bin (labels __label__math / other)")
    ap.add_argument("--pipelines", default="floor,warcio,resiliparse,resiliparse_fasttext,datatrove")
    ap.add_argument("--core", type=int, default=0, help="CPU core each child is pinned to (default 0)")
    ap.add_argument("--datatrove-timeout", type=float, default=1.0,
                    help="datatrove's per-document extraction timeout, s (default 1, datatrove's own)")
    ap.add_argument("--quality", action="store_true", help="also measure extraction F1, formula recall and Chinese char F1")
    ap.add_argument("--json", type=Path, help="write the rows as a JSON list here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.child:
        return child_main(opts)

    names = [n.strip() for n in opts.pipelines.split(",") if n.strip()]
    unknown = [n for n in names if n not in PIPELINES]
    if unknown:
        ap.error(f"unknown pipelines {unknown}; known: {', '.join(PIPELINES)}")
    if NEEDS_MODEL & set(names) and not (opts.model and os.path.isfile(opts.model)):
        ap.error(f"--model FILE is required by {sorted(NEEDS_MODEL & set(names))}")
    model = os.path.abspath(opts.model) if opts.model else None

    data = opts.data or shared_data_dir()
    if opts.input:
        files = [os.path.abspath(f) for f in opts.input]
    else:
        if data is None:
            env = os.environ.get("CORPUSMINER_SHARED_DATA")
            tried = (f"CORPUSMINER_SHARED_DATA={env} lacks PROVENANCE.md" if env
                     else f"no shared/data holding PROVENANCE.md beside {HERE} or a folder above it")
            ap.error(f"shared data folder not found: {tried}: pass --input or --data, "
                     "or point CORPUSMINER_SHARED_DATA at the shared `data` folder")
        shards = sorted(glob.glob(str(data / "minicrawl" / "*.warc.gz")))
        if not shards:
            ap.error(f"no minicrawl shards under {data}")
        files = shards * opts.repeat
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        ap.error(f"input not found: {missing[:3]}")

    load = os.getloadavg()
    gz = sum(os.path.getsize(f) for f in files)
    print(f"input: {len(files)} files, {gz / 1e6:.1f} MB gzip; pinned to core {opts.core}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    rows = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        row = run_pipeline(name, files, model, opts)
        row["loadavg_1m"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        print(f"  {name}: {row.get('pages')} pages in {row.get('seconds')} s"
              + (f"  ERROR: {row['error'][-300:]}" if row.get("error") else ""), file=sys.stderr, flush=True)

    if opts.quality:
        sys.path.insert(0, str(HERE))
        import quality

        if data is None:
            ap.error("--quality needs the shared data folder")
        print("quality: extracting html-extraction/, html-math/ and zh/html-extraction/ pages ...", file=sys.stderr, flush=True)
        for q in quality.evaluate_peers(data):
            figures = {k: q[k] for k in ("f1", "formula_recall", "zh_char_f1") if k in q}
            # The extraction a throughput pipeline runs carries that extractor's figures.
            for r in rows:
                if r["pipeline"] in q["pipelines"]:
                    r.update(figures, extractor=q["extractor"])
            rows.append({"pipeline": "extract:" + q["extractor"], "pages": None, "seconds": None,
                         "pages_per_s": None, "gzip_mb_per_s": None, "peak_rss_mb": None,
                         **{k: v for k, v in q.items() if k not in ("extractor", "pipelines")}})

    print_table(rows)
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {opts.json}", file=sys.stderr)
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
