#!/bin/sh
# save-head.sh — save each gate's signed receipt-log head (admin GET /receipts/head) to a
# timestamped file, for truncation checks later:
#   egress-gate receipts verify --key jwks.json --head DEST/egress-gate-0/head-….jws RECEIPTS/
# A receipt log verifies on its own against changes, reordering and insertions; lines cut
# from its END are only detected against a head saved elsewhere. Keep DEST outside the gate's
# reach (another volume, or set HEAD_PUT_URL to an append-only/WORM bucket).
#
# usage: save-head.sh DEST_DIR [NAME=]ADMIN_URL...
#   ADMIN_URL  the gate's admin base URL, e.g. http://egress-gate-0.egress-gate-replicas:3129
#   NAME       folder under DEST_DIR (default: the URL's host, up to the first dot)
# env:
#   HEAD_PUT_URL  optional: also PUT each saved head to HEAD_PUT_URL/NAME/FILE
#   CURL_OPTS     optional extra curl options (e.g. --cacert …)
# Writes DEST_DIR/NAME/head-YYYYMMDDTHHMMSSZ.jws (atomically: temp file, then rename).
# Exit 0 when every gate's head was saved; 1 when any failed (the others are still saved);
# 2 on usage errors.
set -eu

[ "$#" -ge 2 ] || { echo "usage: save-head.sh DEST_DIR [NAME=]ADMIN_URL..." >&2; exit 2; }
dest=$1
shift
mkdir -p "$dest" || exit 2

status=0
for arg in "$@"; do
  case "$arg" in
    *=http://* | *=https://*) name=${arg%%=*}; url=${arg#*=} ;;
    http://* | https://*) url=$arg; name=$(printf '%s' "$url" | sed -e 's#^[a-z]*://##' -e 's#[/:.].*##') ;;
    *) echo "save-head: not an http(s) URL: $arg" >&2; exit 2 ;;
  esac
  case "$name" in '' | .* | */*) echo "save-head: bad name '$name' for $url" >&2; exit 2 ;; esac
  ts=$(date -u +%Y%m%dT%H%M%SZ)
  dir="$dest/$name"
  file="head-$ts.jws"
  tmp="$dir/.$file.tmp"
  mkdir -p "$dir"
  # shellcheck disable=SC2086 # CURL_OPTS is a list of options by design
  if ! curl -fsS --noproxy '*' --max-time 10 ${CURL_OPTS:-} -o "$tmp" "${url%/}/receipts/head"; then
    echo "save-head: $name: cannot fetch ${url%/}/receipts/head" >&2
    rm -f "$tmp"; status=1; continue
  fi
  # The whole body must be one compact JWS: three base64url parts, nothing else.
  if [ "$(wc -l <"$tmp")" -gt 1 ] || ! tr -d '\n' <"$tmp" | grep -Eq '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'; then
    echo "save-head: $name: the response is not a compact JWS; not saved" >&2
    rm -f "$tmp"; status=1; continue
  fi
  mv "$tmp" "$dir/$file"
  echo "save-head: $name: saved $dir/$file"
  if [ -n "${HEAD_PUT_URL:-}" ]; then
    # shellcheck disable=SC2086
    curl -fsS --max-time 30 ${CURL_OPTS:-} -T "$dir/$file" "${HEAD_PUT_URL%/}/$name/$file" \
      || { echo "save-head: $name: upload to HEAD_PUT_URL failed" >&2; status=1; }
  fi
done
exit "$status"
