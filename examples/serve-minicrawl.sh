#!/usr/bin/env bash
# corpusminer as a service, driven by curl alone: start `serve`, make an admin token, start an
# iteration on the labelled minicrawl, follow it to completion, read its proposals and a host's
# path tree, write an annotation and download the corpus (its files, and as Parquet).
#
#   examples/serve-minicrawl.sh                      # SQLite and a local folder (out-served/)
#   OUT=s3://bucket/prefix CORPUSMINER_DB=postgres://postgres@127.0.0.1/corpusminer \
#   CORPUSMINER_S3_ENDPOINT=http://127.0.0.1:9000 examples/serve-minicrawl.sh   # PostgreSQL + S3
#
# Needs `corpusminer` on PATH (or CORPUSMINER=path/to/it), curl, and ../shared/data (DATA=…).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CORPUSMINER:-corpusminer}"
DATA="$(cd "${DATA:-../shared/data}" && pwd)"
OUT="${OUT:-out-served}"
DOWNLOADS="${DOWNLOADS:-out-served-downloads}"   # where the corpus is downloaded to
PORT="${PORT:-8089}"
API="http://127.0.0.1:$PORT/api/v1"
json() { grep -o "\"$1\":\"\{0,1\}[^\",}]*" | head -n 1 | sed 's/.*:"\{0,1\}//'; }   # first value of a JSON field

TOKEN="$("$BIN" admin token create --out "$OUT" --role admin --name example | head -n 1)"
"$BIN" serve --out "$OUT" --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.2; done
AUTH="Authorization: Bearer $TOKEN"

# Start: the choices of `corpusminer run`, named like its flags in snake_case.
BODY=$(cat <<EOF
{"seed": ["$DATA/math/gsm8k-train.jsonl"],
 "negatives": ["$DATA/negatives/wikitext-2-valid.txt", "$DATA/negatives/dolma-cc_en_head-0091.jsonl.gz"],
 "input": ["$DATA/minicrawl/*.warc.gz"], "labels": "$DATA/minicrawl/LABELS.tsv",
 "crawl_name": "MINICRAWL-dev", "random_seed": 7}
EOF
)
ID=$(curl -sf -H "$AUTH" -H 'content-type: application/json' -H 'Idempotency-Key: minicrawl-example' -d "$BODY" "$API/iterations" | json id)
echo "iteration $ID started"

# Follow it: state, shards done of total, pages, pages/s.
while :; do
    IT=$(curl -sf -H "$AUTH" "$API/iterations/$ID")
    STATE=$(echo "$IT" | json state)
    SHARDS=$(echo "$IT" | grep -o '"shards":{[^}]*}'); LIVE=$(echo "$IT" | grep -o '"progress":{[^}]*}')
    echo "  $STATE: shards $(echo "$SHARDS" | json done)/$(echo "$SHARDS" | json total), pages $(echo "$LIVE" | json pages), pages/s $(echo "$LIVE" | json pages_per_second), ETA $(echo "$LIVE" | json eta_seconds) s"
    case "$STATE" in awaiting_annotation|complete) break ;; failed|cancelled) echo "$IT"; exit 1 ;; esac
    sleep 2
done

PROPOSALS=$(curl -sf -H "$AUTH" "$API/iterations/$ID/proposals?sort=kept_pages&limit=5")
echo "proposals: $PROPOSALS" | head -c 600; echo
HOST=$(echo "$PROPOSALS" | json host)
curl -sf -H "$AUTH" "$API/iterations/$ID/hosts/$HOST/paths?depth=2" | head -c 400; echo
curl -sf -H "$AUTH" -H 'content-type: application/json' \
     -d "{\"annotations\":[{\"prefix\":\"$HOST\",\"label\":\"math\",\"note\":\"from the example\"}]}" "$API/annotations" >/dev/null
echo "annotated $HOST as math"

# The corpus: every file by name, then the whole corpus as Parquet.
mkdir -p "$DOWNLOADS/corpus-$ID"
for NAME in $(curl -sf -H "$AUTH" "$API/iterations/$ID/corpus/files" | grep -o '"name":"[^"]*"' | cut -d'"' -f4); do
    curl -sf -H "$AUTH" -o "$DOWNLOADS/corpus-$ID/$NAME" "$API/iterations/$ID/corpus/files/$NAME"
done
curl -sf -H "$AUTH" -o "$DOWNLOADS/corpus-$ID.parquet" "$API/iterations/$ID/corpus/parquet"
echo "downloaded $(ls "$DOWNLOADS/corpus-$ID" | wc -l) corpus files into $DOWNLOADS/corpus-$ID/ and corpus-$ID.parquet ($(wc -c < "$DOWNLOADS/corpus-$ID.parquet") bytes)"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep -E '^corpusminer_(iterations|pages_scored)' | head -n 12
