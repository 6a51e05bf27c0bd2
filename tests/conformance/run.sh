#!/usr/bin/env bash
# Run ceph/s3-tests (the public S3 compatibility suite) against s3gate in
# front of moto's S3 server, and the same selection against moto directly, so
# that a failure can be told to be the gateway's or the store's.
#
#   tests/conformance/run.sh setup [SOURCE]   once: snapshot + the suite's venv
#   tests/conformance/run.sh [gateway|moto|both] [-- extra pytest args]
#
# SOURCE is a git directory or URL of ceph/s3-tests (default: the upstream
# repository). Everything lives under .conformance/ (git-ignored); after
# `setup` the run needs no network. Not part of `make test`: the suite is not a
# package the registries serve. See tests/conformance/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORKDIR=${CONFORMANCE_DIR:-$ROOT/.conformance}
SUITE=${S3TESTS_DIR:-$WORKDIR/s3-tests}
SUITE_VENV=${S3TESTS_VENV:-$WORKDIR/venv}
PY=${S3GATE_PYTHON:-$ROOT/.venv/bin/python}

# The functional object / bucket / listing / multipart / range / conditional /
# presigned / auth / checksum tests (UploadPartCopy and multipart checksums
# included), the object-version tests (versioning, delete markers: s3gate
# answers for versions in front of a versioned store) and the tagging tests.
# Left out: features s3gate does not implement on purpose
# (docs/s3-compatibility.md): ACL grants, anonymous access, object lock,
# lifecycle, encryption, bucket policies, website, logging, the CORS
# configuration API, POST uploads, SigV2 header signatures, IAM/STS of RGW; and
# tests marked fails_on_aws.
MARKERS='not (lifecycle or lifecycle_expiration or lifecycle_transition
 or encryption or sse_s3 or bucket_encryption or object_lock or bucket_policy or user_policy
 or group_policy or role_policy or session_policy or s3website or s3select or storage_class
 or bucket_logging or bucket_logging_cleanup or iam_account or iam_cross_account or iam_role
 or iam_tenant or iam_user or sns or appendobject or cloud_transition or cloud_restore
 or fails_on_aws or webidentity_test or test_of_sts or abac_test or object_ownership
 or auth_aws2)'
KEYWORDS='(bucket_list or bucket_create or list_buckets or create_bucket or bucket_head
 or bucket_delete or object or multipart or ranged or presigned or checksum or atomic
 or versioning or versioned or delete_marker or tagging or tags)
 and not (acl or access_bucket or anon or public or post_object or sse or encrypt or cors
 or torrent or lock or retention or legal_hold
 or restore or lifecycle or logging or policy or website or attributes or storage_class)'
TEST_FILES=(s3tests/functional/test_s3.py s3tests/functional/test_headers.py)

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {  # url pid
    for _ in $(seq 1 200); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "server for $1 exited" >&2
            return 1
        fi
        if "$PY" -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "$1 did not answer" >&2
    return 1
}

setup() {
    local source=${1:-https://github.com/ceph/s3-tests.git}
    mkdir -p "$WORKDIR"
    if [ ! -d "$SUITE" ]; then
        mkdir -p "$SUITE"
        if [ -d "$source" ] && git --git-dir="$source" rev-parse HEAD >/dev/null 2>&1; then
            git --git-dir="$source" archive HEAD | tar -x -C "$SUITE"
            git --git-dir="$source" rev-parse HEAD >"$SUITE/.snapshot"
        else
            git clone --quiet --depth 1 "$source" "$SUITE.clone"
            git -C "$SUITE.clone" rev-parse HEAD >"$SUITE/.snapshot"
            git -C "$SUITE.clone" archive HEAD | tar -x -C "$SUITE"
            rm -rf "$SUITE.clone"
        fi
    fi
    if [ ! -x "$SUITE_VENV/bin/python" ]; then
        python3 -m venv "$SUITE_VENV"
        "$SUITE_VENV/bin/pip" install --quiet -r "$SUITE/requirements.txt"
    fi
    echo "s3-tests $(cat "$SUITE/.snapshot" 2>/dev/null || echo '(unknown commit)') in $SUITE"
}

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

start_moto() {  # → MOTO_PORT
    MOTO_PORT=$(free_port)
    "$PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto-$1.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" "$!"
}

start_gateway() {  # → GATEWAY_PORT
    GATEWAY_PORT=$(free_port)
    local work="$RUN/gateway"
    rm -rf "$work"
    mkdir -p "$work/policies/access"
    cp "$ROOT/policies/schema.cedarschema" "$work/policies/"
    cp "$HERE"/policies/access/*.cedar "$work/policies/access/"
    sed -e "s#@WORK@#$work#g" -e "s#@GATEWAY_PORT@#$GATEWAY_PORT#g" \
        -e "s#@MOTO_PORT@#$MOTO_PORT#g" "$HERE/s3gate.yaml.in" >"$work/s3gate.yaml"
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
        "$PY" -m s3gate serve --config "$work/s3gate.yaml" >"$RUN/s3gate.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$GATEWAY_PORT/_s3gate/healthz" "$!"
}

run_suite() {  # target port
    local target=$1 port=$2
    sed -e "s#@PORT@#$port#g" "$HERE/s3tests.conf.in" >"$RUN/s3tests-$target.conf"
    echo "== s3-tests against $target (port $port)"
    (
        cd "$SUITE"
        S3TEST_CONF="$RUN/s3tests-$target.conf" "$SUITE_VENV/bin/python" -m pytest \
            -p no:cacheprovider -q -rN --tb=line \
            -m "$(echo "$MARKERS" | tr '\n' ' ')" -k "$(echo "$KEYWORDS" | tr '\n' ' ')" \
            --junitxml="$RUN/junit-$target.xml" "${EXTRA[@]}" "${TEST_FILES[@]}" \
            >"$RUN/pytest-$target.log" 2>&1 || true
    )
    tail -n 1 "$RUN/pytest-$target.log"
}

main() {
    local what=${1:-both}
    [ $# -gt 0 ] && shift
    if [ "$what" = setup ]; then
        setup "$@"
        return
    fi
    EXTRA=()
    if [ "${1:-}" = "--" ]; then
        shift
        EXTRA=("$@")
    fi
    if [ ! -d "$SUITE" ] || [ ! -x "$SUITE_VENV/bin/python" ]; then
        echo "run '$0 setup' first" >&2
        exit 2
    fi
    RUN="$WORKDIR/run"
    mkdir -p "$RUN"
    case "$what" in
    gateway | both)
        start_moto gateway
        start_gateway
        run_suite gateway "$GATEWAY_PORT"
        ;;&
    moto | both)
        start_moto direct
        run_suite moto "$MOTO_PORT"
        ;;
    gateway) ;;
    *)
        echo "usage: $0 setup [SOURCE] | $0 [gateway|moto|both] [-- pytest args]" >&2
        exit 2
        ;;
    esac
    if [ -f "$RUN/junit-gateway.xml" ] && [ -f "$RUN/junit-moto.xml" ]; then
        "$PY" "$HERE/compare.py" "$RUN/junit-gateway.xml" "$RUN/junit-moto.xml"
    fi
}

main "$@"
