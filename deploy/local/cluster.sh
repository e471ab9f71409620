#!/usr/bin/env bash
# A three-node NebulaDNS cluster on loopback, for trying things out and for the benchmarks.
#
#   deploy/local/cluster.sh up       build (release) if needed, start nodes 1-3, wait until ready
#   deploy/local/cluster.sh status   which nodes run, their readiness, and the cluster's view
#   deploy/local/cluster.sh down     stop every node (SIGTERM); data stays (add --purge to delete it)
#
# Node N listens on:  DNS 127.0.0.1:1530N (UDP+TCP)   API 127.0.0.1:1808N
#                     metrics 127.0.0.1:1909N         node-to-node RPC 127.0.0.1:1700N
# Data lives under $NEBULA_CLUSTER_DIR (default deploy/local/data): nodeN/{nebuladns.toml,data,log}.
# Binaries come from $NEBULA_BIN_DIR (default: the cargo target dir's release/).
#
# Then, for example:
#   export NEBULA_API=http://127.0.0.1:18081 NEBULA_TOKEN_FILE=deploy/local/data/node1/data/admin.token
#   nebulactl cluster status
#   dig @127.0.0.1 -p 15302 www.example.com A
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${NEBULA_CLUSTER_DIR:-$ROOT/deploy/local/data}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN_DIR=${NEBULA_BIN_DIR:-$TARGET/release}
NODES=(1 2 3)

die() { echo "cluster.sh: $*" >&2; exit 1; }

pid_of() { cat "$DIR/node$1/pid" 2>/dev/null || true; }
running() { local pid; pid=$(pid_of "$1"); [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; }

write_config() {
    local n=$1 dir=$DIR/node$1
    mkdir -p "$dir"
    cat >"$dir/nebuladns.toml" <<TOML
# Node $n of the local three-node cluster (written by deploy/local/cluster.sh).
[server]
data_dir = "$dir/data"
# Three nodes share this machine's cores: one runtime thread each (two each cost ~25% more CPU
# per write and as much latency on a 2-core machine, in thread wake-ups; bench/README).
runtime_threads = 1

[dns]
listen = ["127.0.0.1:1530$n"]
udp_workers = 1

[http]
listen = "127.0.0.1:1808$n"

[metrics]
listen = "127.0.0.1:1909$n"

[chaos]
hostname = "node$n"

[cluster]
node_id = $n
rpc_listen = "127.0.0.1:1700$n"
peers = [
  { id = 1, rpc = "127.0.0.1:17001", api = "127.0.0.1:18081" },
  { id = 2, rpc = "127.0.0.1:17002", api = "127.0.0.1:18082" },
  { id = 3, rpc = "127.0.0.1:17003", api = "127.0.0.1:18083" },
]
TOML
}

# Runs the command after `what` until it succeeds, while node n runs, for at most 30 s.
wait_until() {
    local n=$1 what=$2 deadline=$((SECONDS + 30))
    shift 2
    until "$@" >/dev/null 2>&1; do
        running "$n" || die "node $n exited; see $DIR/node$n/log"
        ((SECONDS < deadline)) || die "node $n $what within 30 s; see $DIR/node$n/log"
        sleep 0.1
    done
}

wait_ready() {
    wait_until "$1" "not ready" curl -fsS "http://127.0.0.1:1808$1/readyz"
}

# Each node writes its own admin token and registers it through the leader; until that commits
# and reaches node n, node n refuses node 1's token. `up` waits for it, so the token it prints
# works through every node.
wait_token() {
    local token
    token=$(cat "$DIR/node1/data/admin.token" 2>/dev/null) || die "no $DIR/node1/data/admin.token"
    wait_until "$1" "did not accept node 1's admin token (is there a leader?)" \
        curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:1808$1/api/v1/cluster"
}

up() {
    if [[ ! -x $BIN_DIR/nebuladns || ! -x $BIN_DIR/nebulactl ]]; then
        echo "building nebuladns and nebulactl (release) ..."
        (cd "$ROOT" && cargo build --release --locked --workspace --all-targets)
    fi
    for n in "${NODES[@]}"; do
        if running "$n"; then
            echo "node $n already running (pid $(pid_of "$n"))"
            continue
        fi
        write_config "$n"
        nohup "$BIN_DIR/nebuladns" --config "$DIR/node$n/nebuladns.toml" >>"$DIR/node$n/log" 2>&1 &
        echo $! >"$DIR/node$n/pid"
    done
    for n in "${NODES[@]}"; do wait_ready "$n"; done
    for n in "${NODES[@]}"; do wait_token "$n"; done
    echo "cluster up; data under $DIR"
    echo "  export NEBULA_API=http://127.0.0.1:18081 NEBULA_TOKEN_FILE=$DIR/node1/data/admin.token"
    echo "  $BIN_DIR/nebulactl cluster status"
    status
}

status() {
    local any=0
    for n in "${NODES[@]}"; do
        if running "$n"; then
            any=1
            local ready
            ready=$(curl -fsS "http://127.0.0.1:1808$n/readyz" 2>/dev/null || echo "not ready")
            echo "node $n: running (pid $(pid_of "$n")) dns 127.0.0.1:1530$n api 127.0.0.1:1808$n: $ready"
        else
            echo "node $n: stopped"
        fi
    done
    if ((any)) && [[ -x $BIN_DIR/nebulactl && -f $DIR/node1/data/admin.token ]]; then
        for n in "${NODES[@]}"; do
            if running "$n"; then
                "$BIN_DIR/nebulactl" --api "http://127.0.0.1:1808$n" --token-file "$DIR/node1/data/admin.token" cluster status || true
                break
            fi
        done
    fi
}

down() {
    for n in "${NODES[@]}"; do
        if running "$n"; then kill -TERM "$(pid_of "$n")"; fi
    done
    for n in "${NODES[@]}"; do
        local deadline=$((SECONDS + 10))
        while running "$n" && ((SECONDS < deadline)); do sleep 0.1; done
        if running "$n"; then kill -KILL "$(pid_of "$n")" || true; fi
        rm -f "$DIR/node$n/pid"
    done
    if [[ ${1:-} == --purge ]]; then
        rm -rf "$DIR"
        echo "cluster down; $DIR deleted"
    else
        echo "cluster down; data kept under $DIR (down --purge deletes it)"
    fi
}

case ${1:-} in
    up) up ;;
    down) shift; down "$@" ;;
    status) status ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
