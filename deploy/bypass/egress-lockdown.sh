#!/bin/sh
# egress-lockdown.sh — make the egress gate the only way out of a pod.
#
# Run once per pod, before any other container, by an init container that has NET_ADMIN
# (and NET_RAW, which iptables-legacy needs) in the pod's network namespace. It installs, in
# the filter table's OUTPUT chain (IPv4 and IPv6), a jump to its own chain EGRESS_GATE:
#
#   1. packets of connections that already exist (ESTABLISHED, RELATED) pass: replies to
#      inbound connections (kubelet probes, Services in front of the agent) and the SYN-ACKs
#      of listening sockets; a NEW outbound connection is never one of these;
#   2. packets with no local socket (kernel RSTs and ICMP errors) pass: no process can
#      send them, so they open no path;
#   3. on loopback, the agent's UID may reach only AGENT_LOOPBACK_PORTS (the gate's proxy
#      port), never GATE_ADMIN_PORT (the admin listener: metrics, receipt head, CA — keep it
#      out of the agent's reach); anything else it sends to loopback is rejected;
#   4. other loopback traffic passes (it never leaves the pod);
#   5. the gate's UID (and EXTRA_EGRESS_UIDS) may open connections anywhere (upstreams, DNS, JWKS, decider, Redis);
#   6. everything else is rejected: the agent, and any other UID, cannot open a connection
#      that leaves the pod. TCP gets a RST, the rest an ICMP port-unreachable, so clients
#      fail fast instead of hanging.
#
# DNS: only the gate's UID may send DNS queries (rule 5). The agent needs none: with
# HTTP_PROXY/HTTPS_PROXY its clients send the host name to the gate, which resolves it. A
# tool that insists on resolving names itself fails, which is the intended outcome (DNS is a
# data channel too).
#
# The agent must not be able to become the gate's UID: run it with a different UID,
# allowPrivilegeEscalation: false and all capabilities dropped (no CAP_SETUID; no
# CAP_NET_ADMIN to undo these rules; no CAP_NET_RAW, whose packet sockets skip iptables).
#
# Idempotent: the chain is declared and refilled in one iptables-restore transaction
# (atomic: there is no moment with a half-built chain), and the OUTPUT jump is added only
# when it is not already first (later duplicates removed), so running the script again leaves one jump and the same rules.
#
# Parameters (environment):
#   GATE_UID              UID the gate runs as (required)
#   AGENT_UID             UID the agent runs as (required; must differ from GATE_UID)
#   AGENT_LOOPBACK_PORTS  comma-separated TCP ports the agent may reach on loopback
#                         (default: 3128 — the gate's listen port)
#   GATE_ADMIN_PORT       the gate's admin port (default 3129): always refused to the agent;
#                         naming it in AGENT_LOOPBACK_PORTS is an error
#   EXTRA_EGRESS_UIDS     optional comma-separated UIDs that may also leave the pod (e.g. a
#                         log shipper); each is a process the agent must not be able to become
#   IPV6                  auto (default: lock IPv6 down when the kernel has it), on, off
#   IPTABLES, IP6TABLES   the binaries (default iptables, ip6tables; set to
#                         iptables-legacy/ip6tables-legacy on nodes that use legacy)
#   CHAIN                 the chain name (default EGRESS_GATE)
#
# Exit status: 0 when the rules are in place; non-zero (and the pod does not start) when
# they cannot be installed. A lockdown that half-applied must not let the pod run.
set -eu

die() { echo "egress-lockdown: $*" >&2; exit 1; }

GATE_UID="${GATE_UID:-}"
AGENT_UID="${AGENT_UID:-}"
AGENT_LOOPBACK_PORTS="${AGENT_LOOPBACK_PORTS:-3128}"
GATE_ADMIN_PORT="${GATE_ADMIN_PORT:-3129}"
IPV6="${IPV6:-auto}"
EXTRA_EGRESS_UIDS="${EXTRA_EGRESS_UIDS:-}"
IPTABLES="${IPTABLES:-iptables}"
IP6TABLES="${IP6TABLES:-ip6tables}"
CHAIN="${CHAIN:-EGRESS_GATE}"

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

is_uint "$GATE_UID" || die "GATE_UID must be a numeric UID (got '${GATE_UID}')"
is_uint "$AGENT_UID" || die "AGENT_UID must be a numeric UID (got '${AGENT_UID}')"
[ "$GATE_UID" != "$AGENT_UID" ] || die "GATE_UID and AGENT_UID must differ (both ${GATE_UID})"
[ "$GATE_UID" != 0 ] || die "GATE_UID must not be 0: root in the pod could then bypass the gate"
case "$AGENT_LOOPBACK_PORTS" in
  '' | ,* | *, | *,,* | *[!0-9,]*) die "AGENT_LOOPBACK_PORTS must be a comma-separated list of ports (got '${AGENT_LOOPBACK_PORTS}')" ;;
esac
is_uint "$GATE_ADMIN_PORT" || die "GATE_ADMIN_PORT must be a port number (got '${GATE_ADMIN_PORT}')"
for p in $(printf '%s' "$AGENT_LOOPBACK_PORTS" | tr ',' ' '); do
  [ "$p" != "$GATE_ADMIN_PORT" ] || die "AGENT_LOOPBACK_PORTS must not name the admin port ${GATE_ADMIN_PORT}: the agent must not reach the gate's admin listener"
done
for u in $(printf '%s' "$EXTRA_EGRESS_UIDS" | tr ',' ' '); do
  is_uint "$u" || die "EXTRA_EGRESS_UIDS must be numeric UIDs (got '${u}')"
  [ "$u" != "$AGENT_UID" ] && [ "$u" != 0 ] || die "EXTRA_EGRESS_UIDS must not name the agent's UID or 0"
done
case "$IPV6" in auto | on | off) ;; *) die "IPV6 must be auto, on or off (got '${IPV6}')" ;; esac
case "$CHAIN" in '' | *[!A-Za-z0-9_-]*) die "CHAIN must be a plain chain name (got '${CHAIN}')" ;; esac

# rules FAMILY: the iptables-restore input for one address family.
rules() {
  if [ "$1" = 4 ]; then unreach=icmp-port-unreachable; else unreach=icmp6-port-unreachable; fi
  cat <<EOF
*filter
:${CHAIN} - [0:0]
-A ${CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-A ${CHAIN} -m owner ! --socket-exists -j RETURN
-A ${CHAIN} -o lo -p tcp -m owner --uid-owner ${AGENT_UID} --dport ${GATE_ADMIN_PORT} -j REJECT --reject-with tcp-reset
-A ${CHAIN} -o lo -p tcp -m owner --uid-owner ${AGENT_UID} -m multiport --dports ${AGENT_LOOPBACK_PORTS} -j RETURN
-A ${CHAIN} -o lo -p tcp -m owner --uid-owner ${AGENT_UID} -j REJECT --reject-with tcp-reset
-A ${CHAIN} -o lo -m owner --uid-owner ${AGENT_UID} -j REJECT --reject-with ${unreach}
-A ${CHAIN} -o lo -j RETURN
-A ${CHAIN} -m owner --uid-owner ${GATE_UID} -j RETURN
EOF
  for u in $(printf '%s' "$EXTRA_EGRESS_UIDS" | tr ',' ' '); do
    echo "-A ${CHAIN} -m owner --uid-owner ${u} -j RETURN"
  done
  cat <<EOF
-A ${CHAIN} -p tcp -j REJECT --reject-with tcp-reset
-A ${CHAIN} -j REJECT --reject-with ${unreach}
COMMIT
EOF
}

# apply BINARY FAMILY
apply() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found"
  command -v "$1-restore" >/dev/null 2>&1 || die "$1-restore not found"
  # --noflush: only the chain declared above (${CHAIN}) is flushed and refilled; OUTPUT and
  # any other chain keep their rules. The whole block commits atomically or not at all.
  rules "$2" | "$1-restore" --noflush || die "$1-restore failed to install ${CHAIN}"
  jump="-A OUTPUT -j ${CHAIN}"
  # The jump must be the first OUTPUT rule, so that no earlier ACCEPT (from anything that
  # ran before us) can let the agent out. Insert first, then drop later duplicates (highest
  # rule number first), so that OUTPUT is never without the jump, even on a re-run.
  [ "$("$1" -w -S OUTPUT | sed -n '2p')" = "$jump" ] || "$1" -w -I OUTPUT 1 -j "$CHAIN" \
    || die "$1: cannot add the OUTPUT jump to ${CHAIN}"
  for n in $("$1" -w -S OUTPUT | awk -v j="$jump" 'NR > 2 && $0 == j { print NR - 1 }' | sort -rn); do
    "$1" -w -D OUTPUT "$n" || die "$1: cannot remove duplicate jump (rule ${n})"
  done
  [ "$("$1" -w -S OUTPUT | sed -n '2p')" = "$jump" ] || die "$1: OUTPUT does not start with the jump to ${CHAIN}"
  echo "egress-lockdown: $1: ${CHAIN} installed (gate uid ${GATE_UID}, agent uid ${AGENT_UID} -> loopback tcp ${AGENT_LOOPBACK_PORTS}, admin ${GATE_ADMIN_PORT} refused)"
}

apply "$IPTABLES" 4

ipv6_present() { [ -s /proc/net/if_inet6 ]; }
case "$IPV6" in
  on) apply "$IP6TABLES" 6 ;;
  auto)
    if ipv6_present; then apply "$IP6TABLES" 6
    else echo "egress-lockdown: no IPv6 in this network namespace; IPv6 rules skipped"; fi ;;
  off) echo "egress-lockdown: IPV6=off; IPv6 rules skipped" ;;
esac
