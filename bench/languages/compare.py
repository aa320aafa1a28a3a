#!/usr/bin/env python3
"""One bilingual classifier against one per language, on the mixed English + Chinese crawl.

Runs `corpusminer run` three times on the same mixed crawl (the English minicrawl and the 79
labelled Chinese pages of zh/html, packed as one WARC shard):

  bilingual  English + Chinese seeds and negatives, every page scored by one model;
  en-only    English seeds and negatives, --languages en (also today's English baseline);
  zh-only    Chinese seeds and negatives, --languages zh;

and prints precision and recall of the kept math pages at each model's default threshold (its
validation's), per language, on two splits of the labelled Chinese pages: `dev` (two thirds, where
the choice is made) and `test` (the remaining third, nothing tuned on it). The split is
sha256("corpusminer-split:" + INDEX file) % 3 == 0 for test (the shared data's own held-out third
is already out of shared/, so a second, independent rule).

Usage: bench/languages/compare.py BINARY WORKDIR [--data DIR]
Needs the debug or release `corpusminer` binary and `zstd` on PATH. Takes a few minutes.
"""
import gzip, hashlib, json, os, subprocess, sys, glob, io

def data_dir(argv):
    if "--data" in argv:
        return argv[argv.index("--data") + 1]
    return os.environ.get("CORPUSMINER_SHARED_DATA") or os.path.join(os.path.dirname(__file__), "../../../shared/data")

def pack_zh(data, path):
    """The zh/html pages as one gzip WARC (one member per record); returns [(url, label, file)]."""
    labels = []
    with open(path, "wb") as out:
        lines = open(os.path.join(data, "zh/html/INDEX.tsv"), encoding="utf-8").read().splitlines()[1:]
        for n, line in enumerate(lines):
            f = line.split("\t")
            file, label, original = f[0], f[1], f[2]
            url = original if original.startswith("http") else "https://zh-pages.example/" + file
            html = gzip.open(os.path.join(data, "zh/html", file)).read()
            block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(html) + html
            head = ("WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: %s\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n"
                    "WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-%012d>\r\nContent-Type: application/http; msgtype=response\r\n"
                    "Content-Length: %d\r\n\r\n" % (url, n, len(block))).encode()
            out.write(gzip.compress(head + block + b"\r\n\r\n", 1))
            labels.append((url, label, file))
    return labels

def split_of(file):
    return "test" if int(hashlib.sha256(("corpusminer-split:" + file).encode()).hexdigest(), 16) % 3 == 0 else "dev"

def scored(out):
    rows = []
    for f in glob.glob(os.path.join(out, "iterations/1/scored/*.jsonl.zst")):
        text = subprocess.run(["zstd", "-dc", f], capture_output=True, check=True).stdout.decode()
        rows += [json.loads(l) for l in text.splitlines() if l.strip()]
    return rows

def pr(pairs):
    tp = sum(1 for m, k in pairs if m and k)
    kept = sum(1 for _, k in pairs if k)
    math = sum(1 for m, _ in pairs if m)
    return (tp / kept if kept else 0.0, tp / math if math else 0.0, len(pairs))

def judge(out, labels, threshold_of):
    """Precision and recall per (language, split) of a run's labelled pages, each page kept when
    its score reaches `threshold_of(its language)`."""
    groups = {}
    for row in scored(out):
        if row["url"] not in labels:
            continue
        math, split = labels[row["url"]]
        lang = row.get("lang", "und")
        key = ("en" if lang == "en" else "zh" if lang == "zh" else "other", split)
        groups.setdefault(key, []).append((math, row["score"] >= threshold_of(lang)))
    return {k: pr(v) for k, v in groups.items()}

def main(argv):
    binary, work = argv[1], argv[2]
    data = os.path.abspath(data_dir(argv))
    os.makedirs(work, exist_ok=True)
    shard = os.path.join(work, "ZH-00000.warc.gz")
    zh = pack_zh(data, shard)
    labels = {}
    for line in open(os.path.join(data, "minicrawl/LABELS.tsv"), encoding="utf-8").read().splitlines()[1:]:
        f = line.split("\t")
        labels[f[1]] = (f[2] == "math", "en-minicrawl")
    for url, label, file in zh:
        labels[url] = (label == "math", split_of(file))
    en_seed = [os.path.join(data, "math", f) for f in ["gsm8k-train.jsonl", "stackmathqa100k-shards32-127.jsonl"]]
    zh_seed = [os.path.join(data, "zh/math-seed", f) for f in ["tal-scq5k-cn-train-3k.jsonl", "ape210k-valid.ape.jsonl"]]
    en_neg = [os.path.join(data, "negatives", f) for f in ["dolma-CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz", "dolma-cc_en_head-0091.jsonl.gz", "dolma-cc_en_head-0174.jsonl.gz", "wikitext-2-valid.txt"]]
    zh_neg = [os.path.join(data, "zh/negatives", f) for f in ["chinesewebtext-cc-main-2022-21-cleared1.jsonl", "chinesewebtext-fasttext-clean.jsonl", "chinesewebtext-fasttext-dirty.jsonl", "thucnews-headlines-test.txt", "sighan2005-pku-test.utf8", "sighan2005-cityu-test.utf8"]]
    inputs = [os.path.join(data, "minicrawl/*.warc.gz"), shard]
    runs = {
        "bilingual": (en_seed + zh_seed, en_neg + zh_neg, []),
        "en-only": (en_seed, en_neg, ["--languages", "en"]),
        "zh-only": (zh_seed, zh_neg, ["--languages", "zh"]),
    }
    results = {}
    for name, (seed, neg, extra) in runs.items():
        out = os.path.join(work, name)
        if not os.path.exists(os.path.join(out, "report.json")):
            cmd = [binary, "run", "--seed", *seed, "--negatives", *neg, "--input", *inputs, "--crawl-name", "MIXED", "--out", out, *extra]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        report = json.load(open(os.path.join(out, "report.json")))
        threshold = report["selection"]["threshold"]
        results[name] = (threshold, judge(out, labels, lambda lang: threshold))
        # The same model with each writing system at its own validated page threshold.
        validation = json.load(open(os.path.join(out, "iterations/1/model.validation.json")))
        systems = {s["system"]: s["page"]["threshold"] for s in validation.get("page_by_writing_system", [])}
        if len(systems) > 1:
            per_system = lambda lang: systems["han_kana"] if lang in ("zh", "ja") else systems["alphabetic"]
            results[name + " per-system"] = (systems["alphabetic"], judge(out, labels, per_system))
            print(f"{name}: page thresholds per writing system {systems}", file=sys.stderr)
    print("| model | threshold | language | split | pages | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for name, (threshold, groups) in results.items():
        for (lang, split), (p, r, n) in sorted(groups.items()):
            print(f"| {name} | {threshold:.4f} | {lang} | {split} | {n} | {p:.3f} | {r:.3f} |")

if __name__ == "__main__":
    main(sys.argv)
