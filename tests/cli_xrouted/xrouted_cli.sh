#!/bin/sh
# cli.xrouted: xrouted end to end on temporary directories (docs/operations.md).
#   xrouted_cli.sh XROUTED XROUTE WORKDIR TLSDATA
# Every expectation is stated here from the documentation (the readiness line's form, exit
# codes, error names, file modes), not read back from the daemon.
set -u
XROUTED=$1
XROUTE=$2
WORK=$3
TLS=$4
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1
FAILS=0
PIDS=""

fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}
ok() { echo "ok: $*"; }

cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT

# start NAME ARGS...: starts xrouted in the background from directory NAME (created), its
# stdout in NAME/out, its log in NAME/log; sets PID.
start() {
    name=$1
    shift
    mkdir -p "$name"
    rm -f "$name/out" "$name/log" # a readiness line from an earlier run must not count
    (cd "$name" && exec "$XROUTED" "$@" >out 2>log) &
    PID=$!
    PIDS="$PIDS $PID"
}

# wait_ready NAME: waits (30 s at most) for the readiness line; 0 when it came.
wait_ready() {
    i=0
    while [ $i -lt 300 ]; do
        if grep -q '^xrouted ready ' "$1/out" 2>/dev/null; then return 0; fi
        if ! kill -0 "$PID" 2>/dev/null; then return 1; fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# stop PID: SIGTERM, then the exit code (124 if it did not exit within 20 s).
stop() {
    kill -TERM "$1"
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1"
        wait "$1" 2>/dev/null
        return 124
    fi
    wait "$1"
}

HEX64='[0-9a-f]\{64\}'

# ---- 1. the embedded default: readiness, demo bank, files and modes -------------------------
start t1 --listen 127.0.0.1:0
if wait_ready t1; then ok "embedded default is ready"; else fail "no readiness line"; cat t1/log; fi
READY=$(grep '^xrouted ready ' t1/out)
echo "$READY" | grep -q '^xrouted ready bank=127\.0\.0\.1:[1-9][0-9]* tls=off data=var/xroute venues=sim-a,sim-b books=[0-9]/3 pid='"$PID"'$' ||
    fail "readiness line has the documented form: $READY"
echo "$READY" | grep -q ' books=[1-9]/3 ' || fail "at least one pair prices at readiness: $READY"
DEMO=$(grep '^demo bank: ' t1/out)
echo "$DEMO" | grep -q "^demo bank: bank=1 key_id=1 secret=$HEX64 (demo only; also in var/xroute/demo-bank.env)\$" ||
    fail "demo bank line: $DEMO"
SECRET=$(echo "$DEMO" | sed 's/.*secret=\([0-9a-f]*\).*/\1/')
[ "$(grep -c . t1/out)" = 2 ] || fail "stdout has exactly the demo line and the readiness line"
D=t1/var/xroute
[ "$(stat -c %a $D/master.key)" = 600 ] || fail "master.key mode 600"
[ "$(stat -c %a $D/demo-bank.env)" = 600 ] || fail "demo-bank.env mode 600"
[ "$(stat -c %a $D)" = 700 ] || fail "data dir mode 700"
grep -q "^XROUTE_BANK_SECRET=$SECRET\$" $D/demo-bank.env || fail "demo-bank.env holds the secret"
grep -q "^XROUTE_BANK=1\$" $D/demo-bank.env || fail "demo-bank.env holds the bank"
grep -q "^XROUTE_CONNECT=127\.0\.0\.1:[1-9]" $D/demo-bank.env || fail "demo-bank.env holds the address"
MASTER=$(cat $D/master.key)
echo "$MASTER" | grep -q "^$HEX64\$" || fail "master.key holds 64 hex digits"
grep -a -q -F "$SECRET" $D/secrets/data.mdb && fail "the bank secret is stored in the clear"
[ -f "$D/ledger/data.mdb" ] || fail "the ledger exists"
ok "demo bank, files and modes"

# ---- 2. a second instance on the same data directory is refused ---------------------------
(cd t1 && "$XROUTED" --listen 127.0.0.1:0 >second.out 2>second.err)
rc=$?
[ $rc = 2 ] || fail "second instance exits 2 (got $rc)"
grep -q "^error: INVALID_STATE: data directory var/xroute is in use by another xrouted (pid $PID)" t1/second.err ||
    fail "second instance names the holder: $(cat t1/second.err)"
grep -q '^xrouted ready' t1/second.out && fail "second instance printed a readiness line"
ok "second instance refused"

# ---- 3. SIGTERM: exit 0, the ledger verifies ---------------------------------------------
FIRST=$PID
stop $FIRST
rc=$?
[ $rc = 0 ] || fail "SIGTERM exit 0 (got $rc)"
grep -q 'ev=draining signal=SIGTERM' t1/log || fail "log shows the drain"
grep -q 'ev=stopped exit=0' t1/log || fail "log shows the stop"
"$XROUTE" ledger verify --data $D >verify.out 2>&1 || fail "ledger verify after SIGTERM: $(cat verify.out)"
ok "SIGTERM stop"

# ---- 4. no secret in the log ---------------------------------------------------------------
grep -q -F "$SECRET" t1/log && fail "the bank secret is in the log"
grep -q -F "$MASTER" t1/log && fail "the master key is in the log"
grep -q 'ev=demo_bank_created bank=1 key_id=1 secret=\[REDACTED\]' t1/log || fail "demo bank creation logged redacted"
ok "log free of secrets"

# ---- 5. restart: same secret from the store, ready again, SIGINT stops too ------------------
start t1 --listen 127.0.0.1:0
wait_ready t1 || fail "restart ready"
grep -q "^demo bank: bank=1 key_id=1 secret=$SECRET " t1/out || fail "restart prints the stored secret"
grep -q 'ev=master_key_generated' t1/log && fail "restart generated a new master key"
kill -INT $PID
wait $PID
rc=$?
[ $rc = 0 ] || fail "SIGINT exit 0 (got $rc)"
grep -q -F "$SECRET" t1/log && fail "the bank secret is in the restart log"
ok "restart"

# ---- 6. `xrouted secrets` ------------------------------------------------------------------
(cd t1 && "$XROUTED" secrets list >list.out 2>list.err) || fail "secrets list: $(cat t1/list.err)"
[ "$(cat t1/list.out | tr '\n' ' ')" = "bank/1/1 venue/sim-a/api_key venue/sim-a/secret venue/sim-b/api_key venue/sim-b/secret " ] ||
    fail "secrets list: $(cat t1/list.out)"
(cd t1 && "$XROUTED" secrets set-bank 1 2 >set.out 2>&1) || fail "secrets set-bank"
grep -q "^bank=1 key_id=2 secret=$HEX64\$" t1/set.out || fail "set-bank prints the new secret: $(cat t1/set.out)"
(cd t1 && printf 'ab12\n' | "$XROUTED" secrets set-bank 1 3 --stdin >bad.out 2>&1)
[ $? = 2 ] || fail "set-bank with a too short secret exits 2"
(cd t1 && printf 'key-abc\nsecret-def\n' | "$XROUTED" secrets set-venue binance-a >sv.out 2>&1) || fail "set-venue: $(cat t1/sv.out)"
(cd t1 && "$XROUTED" secrets delete bank/1/2 >del.out 2>&1) || fail "secrets delete"
(cd t1 && "$XROUTED" secrets delete bank/1/2 >del2.out 2>&1)
[ $? = 1 ] || fail "deleting a missing record exits 1"
grep -q '^error: NOT_FOUND: ' t1/del2.out || fail "missing record: NOT_FOUND"
(cd t1 && "$XROUTED" secrets list >list2.out 2>&1)
grep -q '^venue/binance-a/secret$' t1/list2.out || fail "set-venue stored the secret"
grep -q '^bank/1/2$' t1/list2.out && fail "delete removed bank/1/2"
ok "secrets subcommand"

# ---- 7. master keys: wrong, badly protected, from the environment ---------------------------
cp $D/master.key master.good
chmod 600 master.good
printf '%064d\n' 7 >$D/master.key
chmod 600 $D/master.key
(cd t1 && "$XROUTED" --listen 127.0.0.1:0 >wrong.out 2>wrong.err)
rc=$?
[ $rc = 1 ] || fail "wrong master key exits 1 (got $rc)"
grep -q '^error: UNAUTHORIZED: the master key does not open var/xroute/secrets' t1/wrong.err ||
    fail "wrong master key message: $(cat t1/wrong.err)"
grep -q '^xrouted ready' t1/wrong.out && fail "wrong master key: no readiness"
cp master.good $D/master.key
chmod 644 $D/master.key
(cd t1 && "$XROUTED" --listen 127.0.0.1:0 >mode.out 2>mode.err)
rc=$?
[ $rc = 1 ] || fail "mode 644 master key exits 1 (got $rc)"
grep -q "^error: CONFIG: master key file var/xroute/master.key has mode 0644; it must be 0600" t1/mode.err ||
    fail "mode message: $(cat t1/mode.err)"
chmod 600 $D/master.key
printf '[secrets]\nmaster_key = env\n' >env.ini
(cd t1 && env -u XROUTE_MASTER_KEY "$XROUTED" --config ../env.ini --listen 127.0.0.1:0 >e1.out 2>e1.err)
[ $? = 1 ] || fail "env source without the variable exits 1"
grep -q '^error: CONFIG: \[secrets\] master_key = env but XROUTE_MASTER_KEY is not set' t1/e1.err ||
    fail "env unset message: $(cat t1/e1.err)"
(cd t1 && XROUTE_MASTER_KEY=0123 "$XROUTED" --config ../env.ini --listen 127.0.0.1:0 >e2.out 2>e2.err)
[ $? = 1 ] || fail "malformed env key exits 1"
grep -q '^error: MALFORMED: XROUTE_MASTER_KEY must be 64 hex digits' t1/e2.err || fail "env malformed message"
(cd t1 && XROUTE_MASTER_KEY=$(printf '%064d' 9) "$XROUTED" --config ../env.ini --listen 127.0.0.1:0 >e3.out 2>e3.err)
[ $? = 1 ] || fail "wrong env key exits 1"
grep -q '^error: UNAUTHORIZED: ' t1/e3.err || fail "wrong env key: UNAUTHORIZED"
rm -f t1/out t1/log
(cd t1 && exec env XROUTE_MASTER_KEY="$MASTER" "$XROUTED" --config ../env.ini --listen 127.0.0.1:0 >out 2>log) &
PID=$!
PIDS="$PIDS $PID"
wait_ready t1 || fail "right key from the environment starts: $(cat t1/log | tail -3)"
grep -q -F "$MASTER" t1/log && fail "the env master key is in the log"
stop $PID || fail "env-key instance stops with 0"
# master_key = file through a symbolic link (secret mounts often are), secrets provisioned
# before the first start into a data directory that does not exist yet
mkdir -p keys
(umask 077 && printf '%064d\n' 5 >keys/real.key)
ln -s real.key keys/link.key
printf '[secrets]\nmaster_key = file\nmaster_key_file = %s/keys/link.key\n' "$WORK" >file.ini
(cd t2 2>/dev/null || mkdir -p t2; cd t2 && printf '%064d\n' 3 | "$XROUTED" secrets set-bank 1 1 --stdin --config ../file.ini --data-dir "$WORK/d4" >p.out 2>p.err) ||
    fail "set-bank into a new data directory: $(cat t2/p.err)"
[ -d d4/secrets ] || fail "set-bank created the store"
[ -e d4/master.key ] && fail "master_key = file wrote a key into the data directory"
start t4 --config ../file.ini --data-dir "$WORK/d4" --listen 127.0.0.1:0
wait_ready t4 || fail "file key through a link: $(tail -3 t4/log)"
grep -q '^demo bank: bank=1 key_id=1 secret=0000000000000000000000000000000000000000000000000000000000000003 (demo only; also in '"$WORK"'/d4/demo-bank.env)$' t4/out ||
    fail "the provisioned secret is used: $(cat t4/out)"
stop $PID || fail "file-key instance stops with 0"
# rekey: everything moves to a new key at once; the old key no longer opens the store
(umask 077 && printf '%064d\n' 6 >keys/new.key)
chmod 644 keys/new.key
(cd t2 && "$XROUTED" secrets rekey --new-key-file ../keys/new.key --config ../file.ini --data-dir "$WORK/d4" >rk.out 2>rk.err)
[ $? = 2 ] || fail "rekey to a group-readable key file exits 2"
chmod 600 keys/new.key
(cd t2 && "$XROUTED" secrets rekey --new-key-file ../keys/new.key --config ../file.ini --data-dir "$WORK/d4" >rk.out 2>rk.err) ||
    fail "rekey: $(cat t2/rk.err)"
grep -q '^re-encrypted 5 secrets under the key in \.\./keys/new\.key' t2/rk.out || fail "rekey output: $(cat t2/rk.out)"
(cd t2 && "$XROUTED" secrets list --config ../file.ini --data-dir "$WORK/d4" >l.out 2>l.err)
[ $? = 1 ] || fail "the old key still opens the store after rekey"
grep -q '^error: UNAUTHORIZED: ' t2/l.err || fail "old key after rekey: UNAUTHORIZED"
printf '[secrets]\nmaster_key = file\nmaster_key_file = %s/keys/new.key\n' "$WORK" >new.ini
start t4 --config ../new.ini --data-dir "$WORK/d4" --listen 127.0.0.1:0
wait_ready t4 || fail "start with the new key: $(tail -3 t4/log)"
grep -q '^demo bank: bank=1 key_id=1 secret=0000000000000000000000000000000000000000000000000000000000000003 ' t4/out ||
    fail "the secret survived the rekey"
stop $PID || fail "new-key instance stops with 0"
ok "master keys"

# ---- 8. bad configuration: file:line:key, exit 2, nothing created ---------------------------
mkdir -p t2
printf '[daemon]\ndata_dir = var/other\n[engine]\nring_capacity = 300\n' >bad1.ini
(cd t2 && "$XROUTED" --config ../bad1.ini >b.out 2>b.err)
rc=$?
[ $rc = 2 ] || fail "bad config exits 2 (got $rc)"
grep -q '^error: CONFIG: \.\./bad1\.ini:4: engine\.ring_capacity: must be a power of two' t2/b.err ||
    fail "bad config message: $(cat t2/b.err)"
[ -e t2/var ] && fail "bad config created the data directory"
printf '[bank.1]\nkey_id = 0\n' >bad2.ini
(cd t2 && "$XROUTED" --config ../bad2.ini >b.out 2>b.err)
[ $? = 2 ] || fail "bad bank exits 2"
grep -q '^error: CONFIG: \.\./bad2\.ini:2: bank\.1\.key_id: ' t2/b.err || fail "bad bank message: $(cat t2/b.err)"
printf '[simulated]\npairs = BTC/USDT, DOGE/USDT\n' >bad3.ini
(cd t2 && "$XROUTED" --config ../bad3.ini --data-dir "$WORK/t2/d3" --listen 127.0.0.1:0 >b.out 2>b.err)
[ $? = 2 ] || fail "pair without a simulated market exits 2"
grep -q '^error: CONFIG: simulated venues: \[simulated\] pairs: no simulated market for DOGE/USDT' t2/b.err ||
    fail "unknown sim pair message: $(cat t2/b.err)"
(cd t2 && "$XROUTED" --listen localhost:7400 >b.out 2>b.err)
[ $? = 2 ] || fail "bad --listen exits 2"
(cd t2 && "$XROUTED" --bogus >b.out 2>b.err)
[ $? = 2 ] || fail "unknown option exits 2"
printf '[bank.5]\ndemo = no\n' >nosecret.ini
(cd t2 && "$XROUTED" --config ../nosecret.ini --data-dir "$WORK/t2/d4" --listen 127.0.0.1:0 >b.out 2>b.err)
[ $? = 1 ] || fail "a bank without a stored secret exits 1"
grep -q "^error: NOT_FOUND: no secret for bank 5 key 1 in the secrets store: add one with 'xrouted secrets set-bank 5 1'" t2/b.err ||
    fail "missing bank secret message: $(cat t2/b.err)"
ok "bad configuration"

# ---- 9. TLS on the bank port -------------------------------------------------------------
printf '[daemon]\ntls_cert = %s/server-rsa-chain.pem\ntls_key = %s/server-rsa.key\n' "$TLS" "$TLS" >tls.ini
start t3 --config ../tls.ini --listen 127.0.0.1:0
if wait_ready t3; then
    grep -q '^xrouted ready bank=127\.0\.0\.1:[1-9][0-9]* tls=on ' t3/out || fail "TLS readiness: $(cat t3/out)"
    PORT=$(sed -n 's/^xrouted ready bank=127\.0\.0\.1:\([0-9]*\) .*/\1/p' t3/out)
    if command -v openssl >/dev/null; then
        # a TLS client that trusts the test CA completes the handshake with the gateway
        openssl s_client -connect 127.0.0.1:"$PORT" -servername localhost -CAfile "$TLS/ca.pem" \
            -verify_return_error </dev/null >tls.out 2>&1
        grep -q 'Verify return code: 0 (ok)' tls.out || fail "TLS handshake: $(tail -5 tls.out)"
    fi
    stop $PID || fail "TLS instance stops with 0"
else
    fail "TLS instance did not start: $(tail -3 t3/log)"
fi
printf '[daemon]\ntls_cert = %s/missing.pem\n' "$WORK" >tls-bad.ini
(cd t3 && "$XROUTED" --config ../tls-bad.ini --data-dir "$WORK/t3/d2" --listen 127.0.0.1:0 >b.out 2>b.err)
rc=$?
[ $rc = 2 ] || fail "missing TLS certificate exits 2 (got $rc)"
grep -q "^error: CONFIG: daemon.tls_cert: cannot read $WORK/missing.pem: No such file or directory" t3/b.err ||
    fail "TLS error message: $(cat t3/b.err)"
[ -e t3/d2 ] && fail "a missing TLS certificate created the data directory"
printf 'not a certificate\n' >garbage.pem
printf '[daemon]\ntls_cert = %s/garbage.pem\n' "$WORK" >tls-bad2.ini
(cd t3 && "$XROUTED" --config ../tls-bad2.ini --data-dir "$WORK/t3/d3" --listen 127.0.0.1:0 >b.out 2>b.err)
rc=$?
[ $rc = 2 ] || fail "an unparsable TLS certificate exits 2 (got $rc)"
grep -q '^error: CONFIG: the bank server could not start' t3/b.err || fail "bad TLS file message: $(cat t3/b.err)"
ok "TLS"

if [ $FAILS -ne 0 ]; then
    echo "$FAILS failure(s)"
    exit 1
fi
echo "all passed"
