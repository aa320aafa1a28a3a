#!/usr/bin/env bash
# Installs the peer pipelines of BASELINES.md into a virtualenv, from PyPI only, at pinned versions.
#
# Usage: bench/peers/install.sh [VENV_DIR]     (default: <repo root>/.venv-peers, gitignored)
# Idempotent: an existing venv is reused, and pip skips what is already installed at the pinned version.
# Nothing is downloaded at run time by the scripts that use this venv (no model hub).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-$root/.venv-peers}"
python="${PYTHON:-python3}"

say() { printf '[install-peers] %s\n' "$*"; }

if [[ -x "$venv/bin/python" ]]; then
  say "reusing virtualenv $venv ($("$venv/bin/python" --version 2>&1))"
else
  say "creating virtualenv $venv with $($python --version 2>&1)"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# The pins of BASELINES.md. trafilatura is what datatrove's Trafilatura step imports; datatrove's WarcReader
# also imports warcio, cchardet (faust-cchardet) and python-magic (needs libmagic1 from the OS); its
# FastTextClassifierFilter needs fasteners; trafilatura's justext needs lxml_html_clean (lxml >= 5.2 split it out).
pins=(
  "fastwarc==2.0.0"
  "resiliparse==2.0.0"
  "warcio==1.8.1"
  "datatrove==0.10.1"
  "trafilatura==2.3.1"
  "faust-cchardet"
  "python-magic"
  "fasteners"
  "lxml_html_clean"
)
say "installing ${pins[*]}"
"${pip[@]}" install --quiet "${pins[@]}"

# libmagic: python-magic loads it with ctypes; without it datatrove's WarcReader cannot start.
if ! "$venv/bin/python" -c 'import magic' 2>/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    say "libmagic missing: apt-get install -y libmagic1"
    apt-get install -y -q libmagic1 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libmagic1 >/dev/null; }
  else
    say "WARNING: libmagic missing and apt-get unavailable: the datatrove pipeline will not run"
  fi
fi

# A fastText binding: the first that installs from a wheel (no compiler) and predicts under the installed numpy.
# fasttext-wheel 0.9.2 calls np.array(copy=False), which numpy 2 rejects, hence the numpy2 forks first.
ft_ok() {
  "$venv/bin/python" - <<'PY' 2>/dev/null
import os, tempfile, fasttext
d = tempfile.mkdtemp()
p = os.path.join(d, "t.txt")
with open(p, "w") as f:
    f.write("__label__math x squared plus one\n__label__other the cat sat\n" * 5)
m = fasttext.train_supervised(p, epoch=1, verbose=0, bucket=1000, dim=4)
labels, probs = m.predict("x squared", k=2)
assert len(labels) == 2
PY
}
if ft_ok; then
  say "fastText binding already works: $("${pip[@]}" list 2>/dev/null | grep -i '^fasttext' | tr -s ' ' | paste -sd, -)"
else
  for spec in "fasttext-numpy2-wheel" "fasttext-numpy2" "fasttext-wheel==0.9.2 numpy<2" "fasttext==0.9.3"; do
    say "trying fastText binding: $spec"
    # shellcheck disable=SC2086
    if "${pip[@]}" install --quiet --only-binary=:all: $spec 2>/dev/null && ft_ok; then
      say "fastText binding OK: $spec"; break
    fi
    "${pip[@]}" uninstall --quiet -y fasttext fasttext-wheel fasttext-numpy2 fasttext-numpy2-wheel >/dev/null 2>&1 || true
  done
  ft_ok || { say "ERROR: no fastText binding installs here"; exit 1; }
fi

say "checking that every module the pipelines import loads"
"$venv/bin/python" -c '
import fastwarc.warc, resiliparse.extract.html2text, resiliparse.parse.html, warcio, trafilatura, fasttext
import datatrove.pipeline.readers, datatrove.pipeline.extractors, datatrove.pipeline.filters, magic, cchardet, fasteners
' || { say "ERROR: an import failed (see above)"; exit 1; }

say "installed versions:"
"${pip[@]}" list 2>/dev/null | grep -iE '^(fastwarc|resiliparse|warcio|datatrove|trafilatura|fasttext[a-z0-9-]*|numpy|faust-cchardet|python-magic|lxml|lxml_html_clean|fasteners) ' | sed 's/^/    /'
say "done: activate with  source $venv/bin/activate"
