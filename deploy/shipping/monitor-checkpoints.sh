#!/bin/sh
# monitor-checkpoints.sh — run `egress-gate receipts monitor` against each gate: fetch its
# newest signed checkpoint (admin GET /receipts/checkpoint) and a consistency proof from the
# checkpoint kept last time (GET /receipts/consistency?from=SIZE), verify both with the
# receipt key, then keep the new checkpoint in STATE_DIR/NAME.checkpoint.
#
# Why: a receipt log proves on its own any change, reordering or insertion, but not that it was
# cut back by whole commits or rewritten and re-signed with the real key. A checkpoint kept
# outside the gate's reach catches both: the monitor refuses (and keeps the old checkpoint) a
# tree that is smaller or does not extend it, and an auditor runs later
#   egress-gate receipts verify --key KEY --checkpoint STATE_DIR/NAME.checkpoint RECEIPTS/
# Keep STATE_DIR on a volume the gates cannot write.
#
# usage: monitor-checkpoints.sh STATE_DIR KEY [NAME=]ADMIN_URL...
#   KEY        the receipt log's verifier key (admin GET /receipts/key) or a JWKS holding
#              its Ed25519 public key; pinned here, never fetched from the gate being checked
#   ADMIN_URL  a gate's admin base URL, e.g. http://egress-gate-0.egress-gate-replicas:3129
#   NAME       the state file's name (default: the URL's host, up to the first dot)
# env:
#   EGRESS_GATE  how to run the CLI (default: egress-gate)
# Exit 0 when every gate's log extends its kept checkpoint; 1 when any did not, or could not
# be reached (the others are still checked and kept); 2 on usage errors.
set -eu

[ "$#" -ge 3 ] || { echo "usage: monitor-checkpoints.sh STATE_DIR KEY [NAME=]ADMIN_URL..." >&2; exit 2; }
state=$1
key=$2
shift 2
[ -r "$key" ] || { echo "monitor-checkpoints: cannot read KEY $key" >&2; exit 2; }
mkdir -p "$state" || exit 2

status=0
for arg in "$@"; do
  case "$arg" in
    *=http://* | *=https://*) name=${arg%%=*}; url=${arg#*=} ;;
    http://* | https://*) url=$arg; name=$(printf '%s' "$url" | sed -e 's#^[a-z]*://##' -e 's#[/:.].*##') ;;
    *) echo "monitor-checkpoints: not an http(s) URL: $arg" >&2; exit 2 ;;
  esac
  case "$name" in '' | .* | */*) echo "monitor-checkpoints: bad name '$name' for $url" >&2; exit 2 ;; esac
  # One gate's failure must not stop the others from being checked: collect, then exit.
  # shellcheck disable=SC2086 # EGRESS_GATE is a command line by design
  if ${EGRESS_GATE:-egress-gate} receipts monitor --url "$url" --key "$key" --state "$state/$name.checkpoint"; then
    echo "monitor-checkpoints: $name: kept $state/$name.checkpoint"
  else
    echo "monitor-checkpoints: $name: NOT kept (see above); $state/$name.checkpoint is unchanged" >&2
    status=1
  fi
done
exit "$status"
