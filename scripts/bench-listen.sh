#!/usr/bin/env bash
# Receiving benchmark (issue 18, docs/performance.md "Receiving"): DCMTK's
# storescu sends the same generated instances to `medsynth listen` and to
# Orthanc, each into fresh storage, with one association and with four at
# once, alternating receivers in every round so that both see the same
# machine. Reports instances/s received and committed (storescu gets each
# response only after the receiver stored the instance) and the ratio.
# For the floor under any receiver it also times, with one association,
# DCMTK's storescp discarding what it receives (--ignore) and storescp writing
# files without syncing them, and prints the latency of one synced 8 KB write
# (dd oflag=dsync): no durable receiver can answer faster than sender + sync.
#
#   scripts/bench-listen.sh [INSTANCES [ROUNDS [SAMPLE]]]
#
# Defaults: 2000 instances, 3 rounds, samples/data/pydicom-data/SC_rgb.dcm.
# Needs a release build (swift build -c release), dcmtk,
# orthanc and curl (scripts/install-system-packages.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
instances=${1:-2000}
rounds=${2:-3}
sample=${3:-samples/data/pydicom-data/SC_rgb.dcm}
medsynth=$PWD/.build/release/medsynth
[[ -x $medsynth && -x $(dirname "$medsynth")/medsynth-decode-worker ]] || {
  echo "bench-listen: build first (medsynth and its medsynth-decode-worker): swift build -c release" >&2
  exit 2
}
[[ -f $sample ]] || { echo "bench-listen: no sample (run samples/fetch.sh): $sample" >&2; exit 2; }
export TCP_NODELAY=1

work=$(mktemp -d /tmp/medsynth-bench-listen.XXXXXX)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The instances: copies of the sample, each with a new SOP Instance UID (dcmodify -gin).
mkdir -p "$work/inputs"
for ((i = 0; i < instances; i++)); do cp "$sample" "$work/inputs/$(printf %06d $i).dcm"; done
find "$work/inputs" -name '*.dcm' -print0 | xargs -0 -n 500 dcmodify -q -nb -gin
sync

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts a receiver ($1: medsynth, orthanc, storescp or storescp-ignore) with fresh storage on $port, waits for a C-ECHO.
start_receiver() {
    local kind=$1 store=$work/store-$RANDOM
    port=$(free_port)
    if [[ $kind == storescp-ignore ]]; then
        storescp --ignore "$port" >"$work/server.log" 2>&1 &
        aec=ANY
    elif [[ $kind == storescp ]]; then
        mkdir -p "$store"
        storescp -od "$store" "$port" >"$work/server.log" 2>&1 &
        aec=ANY
    elif [[ $kind == medsynth ]]; then
        "$medsynth" listen --catalog "$store" --port "$port" --max-associations 4 >"$work/server.log" 2>&1 &
        aec=MEDSYNTH
    else
        mkdir -p "$store"
        http=$(free_port)
        cat >"$store/orthanc.json" <<EOF
{ "Name": "bench", "StorageDirectory": "$store/db", "IndexDirectory": "$store/db", "HttpPort": $http,
  "DicomPort": $port, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false, "AuthenticationEnabled": false,
  "Plugins": [] }
EOF
        Orthanc "$store/orthanc.json" >"$work/server.log" 2>&1 &
        aec=ORTHANC
    fi
    server_pid=$!
    for _ in $(seq 200); do echoscu -aec "$aec" 127.0.0.1 "$port" 2>/dev/null && return 0; sleep 0.05; done
    echo "bench-listen: $kind did not answer a C-ECHO" >&2; cat "$work/server.log" >&2; exit 1
}

stop_receiver() {
    # TERM, not INT: a background job of a script ignores SIGINT unless it sets its own handler.
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}

# Sends every instance with $1 storescu processes at once (one association each); prints instances/s.
send_all() {
    local associations=$1 files
    mapfile -t files < <(find "$work/inputs" -name '*.dcm' | sort)
    local per=$(((${#files[@]} + associations - 1) / associations)) start end pids=()
    start=$(date +%s.%N)
    for ((a = 0; a < associations; a++)); do
        storescu -aec "$aec" 127.0.0.1 "$port" "${files[@]:$((a * per)):per}" 2>>"$work/storescu.log" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || { echo "bench-listen: storescu failed (see $work/storescu.log)" >&2; exit 1; }; done
    end=$(date +%s.%N)
    python3 -c "print(f'{$instances / ($end - $start):.0f}')"
}

printf 'round\tassociations\tmedsynth /s\torthanc /s\tratio\tstorescp --ignore /s\tstorescp /s\n'
for ((round = 1; round <= rounds; round++)); do
    for associations in ${ASSOCIATIONS:-1 4}; do
        start_receiver medsynth; ours=$(send_all "$associations"); stop_receiver
        start_receiver orthanc; theirs=$(send_all "$associations"); stop_receiver
        discard=- files=-
        if ((associations == 1)); then
            start_receiver storescp-ignore; discard=$(send_all 1); stop_receiver
            start_receiver storescp; files=$(send_all 1); stop_receiver
        fi
        printf '%d\t%d\t%s\t%s\t%s\t%s\t%s\n' "$round" "$associations" "$ours" "$theirs" \
            "$(python3 -c "print(f'{$ours / $theirs:.2f}')")" "$discard" "$files"
    done
done
# One synced write of 8 KB to a new file on the same file system, 1,000 times.
dd if=/dev/zero of="$work/synced" bs=8k count=1000 oflag=dsync 2>&1 | tail -n 1 |
    python3 -c "import sys; s = float(sys.stdin.read().split(' copied, ')[1].split(' s')[0]); print(f'one synced 8 KB write: {s:.3f} ms')"

