#!/bin/sh
# cli.bank: `xroute`'s bank commands and `xroute-bank brief` end to end, over loopback TCP,
# against bank_host (the gateway over the engine and two simulated venues; books in
# bank_host.c). Every expected number is computed by hand here from those books and the
# rounding rules of docs/ledger.md ("Rounding"), never read back from the code under test:
#
#   bank 1 spread 150 bps; venue-a taker 10 bps, venue-b 20 bps
#   BTC/USDT  a: asks 60000 x 0.01, 60200 x 0.05  bids 59900 x 0.01, 59700 x 0.05
#             b: asks 60010 x 0.02, 60300 x 0.05  bids 59950 x 0.005, 59600 x 0.05
#   USDT/AZN  a: asks 1.7000 x 10000, 1.7050 x 10000  bid 1.6950;  b: ask 1.7010, bid 1.6940
#
# usage: bank_cli.sh XROUTE XROUTE_BANK BANK_HOST WORKDIR
set -u
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
XR=$(abs "$1")
XRB=$(abs "$2")
HOST=$(abs "$3")
WORK=$4
rm -rf "$WORK"
mkdir -p "$WORK"
FAILS=0
N=0
HOST_PID=

cleanup() {
    if [ -n "$HOST_PID" ]; then
        kill -TERM "$HOST_PID" 2>/dev/null
        wait "$HOST_PID" 2>/dev/null
    fi
}
trap cleanup EXIT INT TERM

ok() { N=$((N + 1)); echo "ok   $N $1"; }
bad() {
    N=$((N + 1)); FAILS=$((FAILS + 1)); echo "FAIL $N $1"
    [ -f "$WORK/out" ] && sed 's/^/     out: /' "$WORK/out" | head -n 20
    [ -f "$WORK/err" ] && sed 's/^/     err: /' "$WORK/err" | head -n 20
}

# run EXPECTED_EXIT args...: runs xroute with the test credentials; stdout in $WORK/out,
# stderr in $WORK/err; checks the exit status.
run() {
    want=$1
    shift
    "$XR" "$@" --credentials "$WORK/host/credentials" >"$WORK/out" 2>"$WORK/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok "exit $want: xroute $*"; else bad "exit $got, wanted $want: xroute $*"; fi
}

# json 'PYTHON_EXPR' DESCRIPTION: the expression over d = the JSON in $WORK/out (Decimal
# numbers as D(...)) must be true.
json() {
    if python3 - "$WORK/out" "$1" <<'EOF' 2>>"$WORK/err"
import json, sys
from decimal import Decimal as D
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
    then ok "$2"; else bad "$2 [$1]"; fi
}

# err_is NAME: stderr names the error.
err_is() {
    if grep -q "^error: $1: " "$WORK/err"; then ok "error $1"; else bad "expected 'error: $1:'"; fi
}

# ---- the host -------------------------------------------------------------------------------
"$HOST" --dir "$WORK/host" >"$WORK/host.out" 2>"$WORK/host.err" &
HOST_PID=$!
i=0
until grep -q '^ready port=' "$WORK/host.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$HOST_PID" 2>/dev/null; then
        echo "bank_host did not start:"; cat "$WORK/host.err"; exit 1
    fi
    sleep 0.1
done
PORT=$(sed -n 's/^ready port=//p' "$WORK/host.out")
echo "# bank_host on 127.0.0.1:$PORT"

# ---- help and usage (no server needed) ------------------------------------------------------
for c in customer fund defund quote buy sell convert cancel order orders balances book ticker ohlc pairs; do
    if "$XR" $c --help >"$WORK/out" 2>&1 && grep -q "^usage: xroute $c" "$WORK/out" &&
        grep -q -- "--connect HOST:PORT" "$WORK/out"; then ok "$c --help"; else bad "$c --help"; fi
done
"$XR" --help >"$WORK/out" 2>&1
for c in customer fund defund quote buy sell convert cancel order orders balances book ticker ohlc pairs; do
    grep -q "^  $c " "$WORK/out" || bad "xroute --help lists $c"
done
ok "xroute --help lists every bank command"

run 2 buy 42 BTCUSDT 0.01
err_is USAGE
run 2 buy 42 BTC/USDT 0.000000001
err_is INVALID_AMOUNT
grep -q "TOO_MANY_DECIMALS" "$WORK/err" && ok "names TOO_MANY_DECIMALS" || bad "names TOO_MANY_DECIMALS"
run 2 fund 42 -5 USDT
err_is INVALID_AMOUNT
run 2 fund 42 0 USDT
err_is INVALID_AMOUNT
run 2 fund 42 10 usdt
err_is USAGE
run 2 fund 42 10 XYZ
err_is UNKNOWN_ASSET
run 2 fund 0 10 USDT
err_is USAGE
run 2 fund 42 10 USDT --key 12345
err_is USAGE
run 2 fund 42 10 USDT --key 00000000000000000000000000000000
err_is USAGE
run 2 buy 42 BTC/USDT 0.01 ETH
err_is USAGE
run 2 balances 42 --depth 3
err_is USAGE
run 2 orders 42 --status done
err_is USAGE
run 2 book BTC/USDT --depth 21
err_is USAGE
run 2 ohlc BTC/USDT --interval 2m
err_is USAGE
run 2 balances
err_is USAGE
"$XR" balances 42 --connect 127.0.0.1:$PORT >"$WORK/out" 2>"$WORK/err" </dev/null
[ $? -eq 2 ] && grep -q "^error: USAGE: no bank id" "$WORK/err" && ok "no credentials: exit 2" || bad "no credentials: exit 2"

# ---- the session ---------------------------------------------------------------------------
"$XR" balances 42 --credentials "$WORK/host/credentials" --secret 00112233445566778899aabbccddeeff >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && ok "wrong secret: exit 1" || bad "wrong secret: exit 1"
err_is UNAUTHORIZED
"$XR" balances 42 --credentials "$WORK/host/credentials" --secret not-hex >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && grep -q "^error: USAGE: the secret is" "$WORK/err" && ok "a secret that is not hex: exit 2" || bad "a secret that is not hex: exit 2"
printf 'bank_id = 1\nthis line has no equals sign\n' >"$WORK/bad.cred"
"$XR" balances 42 --credentials "$WORK/bad.cred" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: CONFIG: .*bad.cred:2: " "$WORK/err" && ok "a bad credentials line: CONFIG naming file:line" || bad "a bad credentials line: CONFIG naming file:line"
"$XR" balances 42 --credentials "$WORK/none.cred" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: NOT_FOUND: " "$WORK/err" && ok "a missing credentials file: NOT_FOUND" || bad "a missing credentials file: NOT_FOUND"
# xrouted's demo-bank.env form (XROUTE_* names), found in ./var/xroute with no flags at all
mkdir -p "$WORK/cwd/var/xroute"
sed -n 's/^bank_id = /XROUTE_BANK=/p; s/^key_id = /XROUTE_KEY_ID=/p; s/^secret = /XROUTE_BANK_SECRET=/p; s/^connect = /XROUTE_CONNECT=/p' \
    "$WORK/host/credentials" >"$WORK/cwd/var/xroute/demo-bank.env"
(cd "$WORK/cwd" && env -u XROUTE_BANK -u XROUTE_CREDENTIALS "$XR" customer 41 --json) >"$WORK/out" 2>"$WORK/err"
[ $? -eq 0 ] && ok "var/xroute/demo-bank.env is read when nothing names a bank" || bad "var/xroute/demo-bank.env is read when nothing names a bank"
json 'd["customer"]==41 and d["created"]==True' "customer 41 registered through demo-bank.env"
# a port nobody listens on: the host's port + 1 is taken by nothing we started
"$XR" balances 42 --credentials "$WORK/host/credentials" --connect 127.0.0.1:1 --timeout-ms 2000 >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: IO: " "$WORK/err" && ok "closed port: exit 1, IO" || bad "closed port: exit 1, IO"

# The venues' books reach the engine once its streams have synced.
i=0
while :; do
    "$XR" book BTC/USDT --json --credentials "$WORK/host/credentials" >"$WORK/out" 2>"$WORK/err"
    if [ $? -eq 0 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d["bids"])==4 and len(d["asks"])==4 else 1)' "$WORK/out" 2>/dev/null; then
        break
    fi
    i=$((i + 1))
    if [ $i -gt 150 ]; then bad "books never synced"; cat "$WORK/err"; exit 1; fi
    sleep 0.2
done
ok "books synced"

# ---- book --------------------------------------------------------------------------------------
run 0 book BTC/USDT --json --depth 3
json 'd["ok"] and d["pair"]=="BTC/USDT" and d["base_scale"]==8' "book header"
json '[(D(p),D(q)) for p,q in d["bids"]]==[(D("59950"),D("0.005")),(D("59900"),D("0.01")),(D("59700"),D("0.05"))]' "book bids, best first, summed over venues"
json '[(D(p),D(q)) for p,q in d["asks"]]==[(D("60000"),D("0.01")),(D("60010"),D("0.02")),(D("60200"),D("0.05"))]' "book asks"
json 'all(q.endswith("0") or len(q.split(".")[1])==8 for p,q in d["bids"])' "quantities at BTC's 8 decimals"
run 0 book BTC/USDT
grep -q "60010" "$WORK/out" && ok "book table shows 60010" || bad "book table shows 60010"
run 1 book DOGE/USDT
err_is UNKNOWN_PAIR

# ---- customer, fund, defund, balances --------------------------------------------------------
run 0 customer 42 --tier 1 --json
json 'd["ok"] and d["customer"]==42 and d["kyc_tier"]==1 and d["created"]==True' "customer 42 registered"
run 0 customer 42 --tier 2 --json
json 'd["created"]==False and d["kyc_tier"]==2' "customer 42 updated to tier 2"
run 0 customer 42 --tier 1
grep -q "customer 42 updated, kyc tier 1" "$WORK/out" && ok "customer table" || bad "customer table"

K1=0000000000000000000000000000c001
run 0 fund 42 1000 USDT --key $K1 --json
json 'd["ok"] and d["amount"]=="1000.000000" and d["asset"]=="USDT" and d["scale"]==6 and d["replayed"]==False and d["key"]=="'$K1'"' "funded 1000.000000 USDT"
run 0 fund 42 1000 USDT --key $K1 --json
json 'd["replayed"]==True and d["amount"]=="1000.000000"' "the same key again: replayed"
run 1 fund 42 999 USDT --key $K1 --json
err_is IDEMPOTENCY_CONFLICT
json 'd["ok"]==False and d["error"]=="IDEMPOTENCY_CONFLICT"' "conflict in JSON too"
run 1 fund 999 10 USDT
err_is NOT_FOUND
run 0 fund 42 0.5 USDT
grep -q "^key [0-9a-f]\{32\}$" "$WORK/out" && ok "a generated key is printed" || bad "a generated key is printed"
run 0 defund 42 100.5 USDT --json
json 'd["ok"] and d["op"]=="defund" and d["amount"]=="100.500000"' "defunded 100.500000 USDT"
run 1 defund 42 100000 USDT
err_is INSUFFICIENT_FUNDS
run 0 balances 42 --json
# 1000 + 0.5 - 100.5 = 900
json '[(b["asset"],b["balance"],b["available"],b["reserved"]) for b in d["balances"] if b["asset"]=="USDT"]==[("USDT","900.000000","900.000000","0.000000")]' "USDT balance 900.000000"

# --state: the last processed seq survives the run; the next run logs on after it, and its one
# new answer moves it by exactly one (nothing else talks to this host meanwhile).
run 0 balances 42 --state "$WORK/state"
S1=$(cat "$WORK/state" 2>/dev/null)
run 0 balances 42 --state "$WORK/state"
S2=$(cat "$WORK/state" 2>/dev/null)
[ -n "$S1" ] && [ "$S1" -ge 1 ] && [ "$S2" -eq $((S1 + 1)) ] && ok "--state: seq $S1, then $S2" || bad "--state: seq '$S1', then '$S2'"

# ---- quote -----------------------------------------------------------------------------------
# buy 0.005 BTC: venue-a (60000 x 1.001 = 60060 net) beats b (60010 x 1.002 = 60130.02).
# N = 0.005 x 60000 = 300.000000; F = ceil(300 x 10 / 10^4) = 0.300000; E = 300.300000;
# S = floor(300.300000 x 150 / 10^4) = 4.504500; the customer pays E + S = 304.804500.
run 0 quote 42 buy BTC/USDT 0.005 --json
json 'd["ok"] and d["side"]=="buy" and d["amount_side"]=="base" and d["base"]=="0.00500000"' "quote: 0.005 BTC"
json 'd["notional"]=="300.000000" and d["fees"]=="0.300000" and d["spread"]=="4.504500" and d["quote"]=="304.804500" and d["spread_bps"]==150' "quote: 304.804500 USDT all in"
json 'D(d["price"])==D("60960.9")' "quote price 304.8045 / 0.005 = 60960.9"
run 1 quote 42 buy BTC/USDT 0.000001
err_is INVALID_AMOUNT
run 1 quote 42 buy ETH/USDT 1
err_is UNKNOWN_PAIR

# ---- buy, sell ---------------------------------------------------------------------------------
KB=0000000000000000000000000000b001
run 0 buy 42 BTC/USDT 0.005 --key $KB --json
json 'd["ok"] and d["status"]=="FILLED" and d["err"]=="OK" and d["replayed"]==False and d["key"]=="'$KB'"' "buy FILLED"
json 'd["filled"]=="0.00500000" and d["ordered"]=="0.00500000" and d["notional"]=="300.000000" and d["fees"]=="0.300000" and d["spread"]=="4.504500" and d["quote"]=="304.804500" and d["venues"]==1' "buy: the hand-computed amounts"
json 'D(d["avg_price"])==D("60960.9") and d["base_asset"]=="BTC" and d["quote_asset"]=="USDT"' "buy: average price all in"
run 0 buy 42 BTC/USDT 0.005 --key $KB --json
json 'd["replayed"]==True and d["quote"]=="304.804500" and d["filled"]=="0.00500000"' "the same key: the stored report, replayed"
run 0 balances 42 --json
# 900 - 304.8045 = 595.1955; one buy booked, not two
json '{b["asset"]:b["balance"] for b in d["balances"]}.get("USDT")=="595.195500" and {b["asset"]:b["balance"] for b in d["balances"]}.get("BTC")=="0.00500000"' "balances after one buy: 595.195500 USDT, 0.00500000 BTC"
# 0.02 BTC costs about 1,210 USDT (a: 0.005 at 60000, b: 0.015 at 60010): more than 595.1955
run 1 buy 42 BTC/USDT 0.02 --json
err_is INSUFFICIENT_FUNDS
json 'd["ok"]==False and d["error"]=="INSUFFICIENT_FUNDS"' "refusal in JSON"
run 0 balances 42 --json
json '{b["asset"]:(b["balance"],b["reserved"]) for b in d["balances"]}.get("USDT")==("595.195500","0.000000")' "the refusal booked and reserved nothing"
# sell 0.002 BTC: a's bid (59900 x 0.999 = 59840.1 net) beats b's (59950 x 0.998 = 59830.1).
# N = floor(0.002 x 59900) = 119.800000; F = ceil(119.8 x 10 / 10^4) = 0.119800;
# E = 119.680200; S = floor(119.680200 x 150 / 10^4) = 1.795203; receives E - S = 117.884997.
KS=0000000000000000000000000000b002
run 0 sell 42 BTC/USDT 0.002 --key $KS --json
json 'd["status"]=="FILLED" and d["side"]=="sell" and d["notional"]=="119.800000" and d["fees"]=="0.119800" and d["spread"]=="1.795203" and d["quote"]=="117.884997"' "sell: the hand-computed amounts"
# 117.884997 / 0.002 = 58942.4985 per BTC, rounded down at the pair's price scale
json 'D(d["avg_price"])<=D("58942.4985") and D(d["avg_price"])>D("58942.4985")-D("0.01")' "sell: average price rounded down"
run 0 sell 42 BTC/USDT 0.002 --key $KS
grep -q "^received  117.884997 USDT" "$WORK/out" && grep -q "replayed" "$WORK/out" && ok "sell table, replayed" || bad "sell table, replayed"
run 1 sell 42 BTC/USDT 1
err_is INSUFFICIENT_LIQUIDITY
run 0 balances 42
# 595.1955 + 117.884997 = 713.080497 USDT; 0.005 - 0.002 = 0.003 BTC
grep -q "^USDT  *713.080497  *713.080497  *0.000000$" "$WORK/out" && ok "balances table: 713.080497 USDT" || bad "balances table: 713.080497 USDT"
grep -q "^BTC  *0.00300000  *0.00300000  *0.00000000$" "$WORK/out" && ok "balances table: 0.00300000 BTC" || bad "balances table: 0.00300000 BTC"

# ---- pairs, ticker, ohlc ------------------------------------------------------------------------
# Trades so far: the buy took 0.005 at 60000 on venue-a, the sell 0.002 at 59900 on venue-a.
run 0 pairs --json
json '[(p["pair"],p["trading"],p["venues"],p["venues_ready"],p["min_qty"],p["lot_step"],D(p["tick"]),p["min_notional"]) for p in d["pairs"] if p["pair"]=="BTC/USDT"]==[("BTC/USDT",True,3,3,"0.00001000","0.00001000",D("0.01"),"5.000000")]' "pairs: BTC/USDT on both venues, lot 0.00001, tick 0.01, min notional 5 USDT"
json '[(p["trading"],p["venues_ready"],p["lot_step"],p["min_qty"]) for p in d["pairs"] if p["pair"]=="USDT/AZN"]==[(True,3,"0.010000","1.000000")]' "pairs: USDT/AZN on every venue at the ledger's USDT/6 (the venue driver bridges the venues' 8 decimals)"
run 0 ticker BTC/USDT --json
json 'D(d["bid"])==D("59950") and d["bid_qty"]=="0.00500000" and D(d["ask"])==D("60000") and d["ask_qty"]=="0.00500000"' "ticker: bid 59950 x 0.005, ask 60000 x 0.005 (0.005 of 0.01 bought)"
json 'D(d["last"])==D("59900") and d["volume_24h"]=="0.00700000" and d["trades_24h"]==2' "ticker: last 59900, 0.007 BTC in 2 trades"
run 0 ohlc BTC/USDT --interval 1m --json
json 'sum(D(c["volume"]) for c in d["candles"])==D("0.007") and sum(c["trades"] for c in d["candles"])==2 and max(D(c["high"]) for c in d["candles"])==D("60000") and min(D(c["low"]) for c in d["candles"])==D("59900") and D(d["candles"][-1]["close"])==D("59900") and D(d["candles"][0]["open"])==D("60000")' "ohlc 1m: open 60000, high 60000, low 59900, close 59900, 0.007 BTC, 2 trades"
run 0 ohlc BTC/USDT --interval 1m --from 2000-01-01T00:00:00Z --to 2000-01-02T00:00:00Z --json
json 'd["candles"]==[] and d["next_from_ns"] is None' "ohlc: nothing in 2000"
run 1 ticker DOGE/USDT
err_is UNKNOWN_PAIR
run 0 ticker BTC/USDT
grep -q "^last      59900.00000000 USDT/BTC at " "$WORK/out" && ok "ticker table" || bad "ticker table"

# ---- order, orders -----------------------------------------------------------------------------
run 0 order 42 $KB --json
json 'd["status"]=="FILLED" and d["type"]=="market" and d["spread_bps"]==150 and d["amount_side"]=="base"' "order: stored record"
json 'len(d["children"])==1 and d["children"][0]["venue"]==0 and d["children"][0]["filled"]=="0.00500000" and d["children"][0]["notional"]=="300.000000" and d["children"][0]["fee"]=="0.300000" and d["children"][0]["done"]==True and d["children"][0]["err"]=="OK"' "order: one child on venue-a, 0.005 at 300.000000, fee 0.300000"
json 'len(d["venue_prices"])==2 and [(v["venue"],v["usable"],v["bid"],v["ask"]) for v in d["venue_prices"]]==[(0,True,"59900.00000000","60000.00000000"),(1,True,"59950.00000000","60010.00000000")] and d["decided_ns"]>0' "order: best-execution market, both venues' top of book at the decision"
run 1 order 42 0000000000000000000000000000dead
err_is NOT_FOUND
run 1 order 43 $KB
err_is NOT_FOUND
run 0 orders 42 --json
json '[(o["key"],o["side"],o["status"]) for o in d["orders"]]==[("'$KS'","sell","FILLED"),("'$KB'","buy","FILLED")] and d["next_cursor"] is None' "orders: the sell, then the buy (newest first)"
run 0 orders 42 --side buy --json
json '[o["key"] for o in d["orders"]]==["'$KB'"]' "orders --side buy"
run 0 orders 42 --status failed,cancelled --json
json 'd["orders"]==[]' "orders --status failed,cancelled: none"
run 0 orders 42 --limit 1 --json
json 'len(d["orders"])==1 and d["orders"][0]["key"]=="'$KS'" and d["next_cursor"] is not None' "orders --limit 1: one page and a cursor"
CUR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_cursor"])' "$WORK/out")
run 0 orders 42 --limit 1 --cursor "$CUR" --json
json '[o["key"] for o in d["orders"]]==["'$KB'"]' "orders --cursor: the next page"
run 0 orders 42
[ "$(grep -c "^[0-9a-f]\{32\} .* FILLED " "$WORK/out")" -eq 2 ] && ok "orders table: 2 rows" || bad "orders table: 2 rows"

# ---- LIMIT, cancel, quote side (customer 43) -------------------------------------------------
run 0 customer 43 --json
run 0 fund 43 200 USDT --json
L1=0000000000000000000000000000a001
# 0.001 BTC at most 50000 all in: rests (the best ask is 60000)
run 0 buy 43 BTC/USDT 0.001 --price 50000 --key $L1 --json
json 'd["ok"] and d["status"]=="OPEN" and d["filled"]=="0.00000000" and d["quote"]=="0.000000"' "LIMIT buy at 50000 rests OPEN"
# docs/ledger.md: a LIMIT buy reserves ceil(0.001 x 50000) = 50.000000 plus 34 minor units
run 0 balances 43 --json
json '{b["asset"]:(b["balance"],b["available"],b["reserved"]) for b in d["balances"]}["USDT"]==("200.000000","149.999966","50.000034")' "reserved 50.000034 USDT while it rests"
run 0 orders 43 --status open --json
json '[(o["key"],o["type"],o["status"]) for o in d["orders"]]==[("'$L1'","limit","OPEN")]' "orders --status open: the resting LIMIT"
run 0 cancel 43 $L1 --json
json 'd["ok"] and d["status"]=="CANCELLED" and d["filled"]=="0.00000000" and d["key"]=="'$L1'"' "cancel: CANCELLED, nothing filled"
run 0 balances 43 --json
json '{b["asset"]:(b["balance"],b["available"],b["reserved"]) for b in d["balances"]}["USDT"]==("200.000000","200.000000","0.000000")' "the cancel released the whole reservation"
run 1 cancel 43 $L1
err_is INVALID_STATE
run 1 cancel 42 $KB --json
err_is INVALID_STATE
json 'd["ok"]==False and d["error"]=="INVALID_STATE"' "a filled order cannot be cancelled"
run 2 buy 43 BTC/USDT 0.001 --price 50000.000000001
err_is INVALID_AMOUNT
# spend 100 USDT all in (the amount on the quote side): the most q of 0.00001 BTC with
# N + F <= floor(100 x 10^4 / 10150) = 98.522167 at venue-a's 60000 (0.005 left there):
# q = 0.00164, N = 98.400000, F = 0.098400, S = floor(98.4984 x 150 / 10^4) = 1.477476,
# paid 99.975876 (see the brief below for the same arithmetic)
run 0 buy 43 BTC/USDT 100 USDT --json
json 'd["status"]=="FILLED" and d["filled"]=="0.00164000" and d["quote"]=="99.975876" and d["spread"]=="1.477476"' "buy for 100 USDT: 0.00164 BTC for 99.975876 USDT"

# ---- convert (venue-a: USD <-> USDC at 1:1 less 10 bps) ------------------------------------------
run 0 fund 42 100 USD --json
KC=0000000000000000000000000000c0c1
# 25.00 USD x 0.999 = 24.975000 USDC
run 0 convert 42 25 USD USDC --key $KC --json
json 'd["ok"] and d["status"]=="COMPLETED" and d["from_amount"]=="25.00" and d["to_amount"]=="24.975000" and d["key"]=="'$KC'"' "convert 25.00 USD -> 24.975000 USDC"
# 12.345678 USDC x 0.999 = 12.333332322 USD, 12.33 at USD's 2 places (rounded down)
run 0 convert 42 12.345678 USDC USD --json
json 'd["status"]=="COMPLETED" and d["to_amount"]=="12.33"' "convert 12.345678 USDC -> 12.33 USD"
run 0 balances 42 --json
json '{b["asset"]:b["balance"] for b in d["balances"]}.get("USD")=="87.33" and {b["asset"]:b["balance"] for b in d["balances"]}.get("USDC")=="12.629322"' "balances: 100 - 25 + 12.33 = 87.33 USD, 24.975 - 12.345678 = 12.629322 USDC"
run 1 convert 42 26 USD USDC --key $KC
err_is IDEMPOTENCY_CONFLICT
run 1 convert 42 1000 USD USDC
err_is INSUFFICIENT_FUNDS
run 1 convert 42 1 USD PYUSD
err_is NOT_SUPPORTED # a registered asset no venue of this host converts to
run 1 convert 42 1 USD XYZ
err_is UNKNOWN_ASSET
run 2 convert 42 1 USD USD
err_is USAGE

# ---- xroute-bank brief -------------------------------------------------------------------------
# The brief's scenario on BTC/USDT (USDT/AZN follows below): fund
# 1,000 USDT, buy BTC for 100 USDT: a NEW_ORDER with the amount on the quote side (on an engine
# without those, xroute-bank buys the base amount of a firm quote for 100 USDT; the sizing
# rule is the same): the most q (lots of 0.00001 BTC) at venue-a's
# 60000 (0.00336 BTC left there) with N + F <= B = floor(100 x 10^4 / 10150) = 98.522167:
# q = 0.00164: N = 98.400000, F = ceil(98.4 x 10 / 10^4) = 0.098400, E = 98.498400
# (0.00165 would make E = 99.099000), S = floor(98.4984 x 150 / 10^4) = 1.477476,
# paid E + S = 99.975876 USDT.
"$XRB" brief --credentials "$WORK/host/credentials" --customer 7001 --pair BTC/USDT --json >"$WORK/out" 2>"$WORK/err"
st=$?
sed 's/^/     /' "$WORK/out"
[ $st -eq 0 ] && grep -q "^== brief scenario: passed" "$WORK/out" && ok "xroute-bank brief passed" || bad "xroute-bank brief passed"
grep '^{' "$WORK/out" >"$WORK/brief.json"
cp "$WORK/brief.json" "$WORK/out"
json 'd["ok"] and d["bought"]=="0.00164000" and d["paid"]=="99.975876" and d["spread"]=="1.477476" and d["notional"]=="98.400000" and d["fees"]=="0.098400"' "brief: 0.00164 BTC for 99.975876 USDT, spread 1.477476"
BKEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$WORK/brief.json")
# The ledger's own record of it.
"$XR" ledger balances --data "$WORK/host" --json >"$WORK/ledger.json" 2>"$WORK/err" || bad "ledger balances"
cat >"$WORK/accounts.py" <<'PY'
import json, sys
accts = json.load(open(sys.argv[1]))["accounts"]
def one(kind, asset, owner=0, balance=None):
    # a customer's owner is the bank's customer id; the bank's own accounts have owner 0 (a
    # SPREAD_REVENUE with owner 1 is the engine's quote P&L, docs/ledger.md)
    xs = [a for a in accts if a["kind"] == kind and a["asset"] == asset and a["bank_id"] == 1
          and a["owner_id"] == owner and (balance is None or a["balance"] == balance)]
    return xs[0]["id"] if len(xs) == 1 else 0
# the brief's customer 7001: 1000 - 99.975876 USDT and 0.00164 BTC
print(one("customer", "USDT", 7001, "900.024124"), one("bank_omnibus", "USDT"),
      one("customer", "BTC", 7001, "0.00164000"), one("bank_omnibus", "BTC"),
      one("spread_revenue", "USDT"))
PY
python3 "$WORK/accounts.py" "$WORK/ledger.json" >"$WORK/accounts"
read CUST_USDT OMNI_USDT CUST_BTC OMNI_BTC REV_USDT <"$WORK/accounts" || true
echo "# accounts: customer USDT $CUST_USDT, omnibus USDT $OMNI_USDT, customer BTC $CUST_BTC, omnibus BTC $OMNI_BTC, spread revenue USDT $REV_USDT"
for a in $CUST_USDT $OMNI_USDT $CUST_BTC $OMNI_BTC $REV_USDT; do
    "$XR" ledger entries "$a" --data "$WORK/host" --json --limit 100 >"$WORK/e_$a.json" 2>>"$WORK/err" || bad "ledger entries $a"
done
cat >"$WORK/legs.py" <<'PY'
import json, sys
w = sys.argv[1]
ent = {a: json.load(open(f"{w}/e_{a}.json"))["entries"] for a in sys.argv[2:]}
cu, ou, cb, ob, rv = sys.argv[2:]
def by_transfer(a):
    return {e["transfer"]: e["amount"] for e in ent[a]}
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond
# newest first: the trade's debit, then the funding
check([e["amount"] for e in ent[cu]] == ["-99.975876", "1000.000000"], "customer USDT: +1000.000000 then -99.975876 (debit)")
check(by_transfer(ou).get(ent[cu][0]["transfer"]) == "99.975876", "omnibus USDT credited 99.975876 by the same transfer")
check([e["amount"] for e in ent[cb]] == ["0.00164000"], "customer BTC credited 0.00164000")
check(by_transfer(ob).get(ent[cb][0]["transfer"]) == "-0.00164000", "omnibus BTC debited 0.00164000 by the same transfer")
# spread revenue: 4.504500 (42's buy), 1.795203 (42's sell), 1.477476 (43's buy for 100
# USDT), then the brief's 1.477476
check([e["amount"] for e in ent[rv]][:1] == ["1.477476"] and ent[rv][0]["balance_after"] == "9.254655", "spread revenue USDT credited 1.477476 (total 4.5045 + 1.795203 + 2 x 1.477476 = 9.254655)")
sys.exit(0 if ok else 1)
PY
python3 "$WORK/legs.py" "$WORK" "$CUST_USDT" "$OMNI_USDT" "$CUST_BTC" "$OMNI_BTC" "$REV_USDT" >"$WORK/legs" 2>&1
st=$?
sed 's/^/     /' "$WORK/legs"
[ $st -eq 0 ] && ok "brief's ledger legs via xroute ledger entries --json" || bad "brief's ledger legs via xroute ledger entries --json"
"$XR" ledger verify --data "$WORK/host" >"$WORK/out" 2>"$WORK/err" && ok "ledger verifies" || bad "ledger verifies"
# the brief's order, seen by the CLI
run 0 order 7001 "$BKEY" --json
json 'd["status"]=="FILLED" and d["filled"]=="0.00164000" and d["quote"]=="99.975876"' "xroute order shows the brief's order"

# The brief's own pair (wt-driver: the venue driver bridges the venues' 8-decimal USDT to the
# ledger's USDT/6): fund 1,000 AZN, buy USDT for 100 AZN. B = floor(100.00 x 10^4 / 10150) =
# 98.52; venue-a's 1.7000 (net 1.7017 beats venue-b's 1.7010 x 1.002): the most q (lots of
# 0.01 USDT) with q x 1.7 x 1.001 <= 98.52 is 57.89 (57.90 costs 98.528): N = ceil(98.413) =
# 98.42, F = ceil(98.42 x 10 / 10^4) = 0.10, E = 98.52, S = floor(98.52 x 150 / 10^4) = 1.47,
# paid E + S = 99.99 AZN.
"$XRB" brief --credentials "$WORK/host/credentials" --customer 7002 --pair USDT/AZN --json >"$WORK/out" 2>"$WORK/err"
st=$?
sed 's/^/     /' "$WORK/out"
[ $st -eq 0 ] && grep -q "^== brief scenario: passed" "$WORK/out" && ok "xroute-bank brief on USDT/AZN passed" || bad "xroute-bank brief on USDT/AZN passed"
grep '^{' "$WORK/out" >"$WORK/out.json"
cp "$WORK/out.json" "$WORK/out"
json 'd["ok"] and d["bought"]=="57.890000" and d["paid"]=="99.99" and d["spread"]=="1.47" and d["notional"]=="98.42" and d["fees"]=="0.10"' "brief: 57.89 USDT for 99.99 AZN, spread 1.47"
"$XR" ledger verify --data "$WORK/host" >"$WORK/out" 2>"$WORK/err" && ok "ledger verifies after the AZN brief" || bad "ledger verifies after the AZN brief"

# ---- an IOC LIMIT that fills in part (customer 44) ---------------------------------------------
# venue-a's 60000 level has 0.00172 BTC left (0.01 - 0.005 - 0.00164 - 0.00164). A buy of 0.05
# at most 61000 all in reaches it (60000 x 1.015 x 1.001 = 60963.9) but not venue-b's 60010
# (x 1.015 x 1.002 = 61033.4): 0.00172 fills, the rest is cancelled.
# N = 0.00172 x 60000 = 103.200000, F = 0.103200, E = 103.303200,
# S = floor(103.3032 x 150 / 10^4) = 1.549548, paid 104.852748.
run 0 customer 44 --json
run 0 fund 44 4000 USDT --json
run 0 buy 44 BTC/USDT 0.05 --price 61000 --tif ioc --json
json 'd["ok"] and d["status"]=="CANCELLED" and d["filled"]=="0.00172000" and d["notional"]=="103.200000" and d["fees"]=="0.103200" and d["spread"]=="1.549548" and d["quote"]=="104.852748"' "IOC: 0.00172 of 0.05 filled, the rest CANCELLED, exit 0"
run 0 balances 44 --json
json '{b["asset"]:(b["balance"],b["reserved"]) for b in d["balances"]}["USDT"]==("3895.147252","0.000000")' "IOC: the reservation released but for the 104.852748 paid"
# unmarketable IOC: nothing can fill inside 50000 all in
run 1 buy 44 BTC/USDT 0.001 --price 50000 --tif ioc
err_is INSUFFICIENT_LIQUIDITY

"$XRB" brief --credentials "$WORK/host/credentials" --pair BTC/XYZ >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && ok "xroute-bank brief on an unknown asset: exit 2" || bad "xroute-bank brief on an unknown asset: exit 2"
"$XRB" load --credentials "$WORK/host/credentials" --rate 0 >"$WORK/out" 2>"$WORK/err"
[ $? -eq 2 ] && ok "xroute-bank load --rate 0: exit 2" || bad "xroute-bank load --rate 0: exit 2"
# a short open-loop run: every order answered (filled), percentiles printed
"$XRB" load --credentials "$WORK/host/credentials" --rate 50 --duration 1 --customers 2 --qty 0.001 --json >"$WORK/out" 2>"$WORK/err"
[ $? -eq 0 ] && ok "xroute-bank load: 50 orders answered" || bad "xroute-bank load: 50 orders answered"
json 'd["sent"]==50 and d["answered"]==50 and d["filled"]==50 and d["rejects"]==0 and 0<d["p50_us"]<=d["p99_us"]<=d["max_us"]' "load: 50 sent, 50 filled, p50 <= p99 <= max"

# The host drains and exits 0 on SIGTERM, with nothing from a sanitizer in its log.
kill -TERM "$HOST_PID"
wait "$HOST_PID"
st=$?
HOST_PID=
[ $st -eq 0 ] && ok "bank_host exits 0 on SIGTERM" || bad "bank_host exits 0 on SIGTERM (got $st)"
if grep -q "Sanitizer\|runtime error" "$WORK/host.err"; then bad "sanitizer report in bank_host's log"; else ok "no sanitizer report in bank_host's log"; fi

# ---- the same over TLS: a second host with the test PKI (tests/data/tls) -------------------------
TLS=$(cd "$(dirname "$0")/../data/tls" && pwd)
"$HOST" --dir "$WORK/tls" --tls "$TLS/server-ec.pem" "$TLS/server-ec.key" >"$WORK/tls.out" 2>"$WORK/tls.err" &
HOST_PID=$!
i=0
until grep -q '^ready port=' "$WORK/tls.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 "$HOST_PID" 2>/dev/null; then bad "TLS bank_host did not start"; cat "$WORK/tls.err"; break; fi
    sleep 0.1
done
T="--credentials $WORK/tls/credentials --tls-ca $TLS/ca.pem --tls-name localhost"
"$XR" customer 61 --json $T >"$WORK/out" 2>"$WORK/err" && ok "TLS: customer" || bad "TLS: customer"
json 'd["created"]==True' "TLS: customer 61 registered"
"$XR" fund 61 12.34 USDT --json $T >"$WORK/out" 2>"$WORK/err" && ok "TLS: fund" || bad "TLS: fund"
"$XR" balances 61 --json $T >"$WORK/out" 2>"$WORK/err" && ok "TLS: balances" || bad "TLS: balances"
json '{b["asset"]:b["balance"] for b in d["balances"]}["USDT"]=="12.340000"' "TLS: 12.340000 USDT"
XROUTE_TLS_CA="$TLS/ca.pem" XROUTE_TLS_NAME=localhost "$XR" balances 61 --credentials "$WORK/tls/credentials" >"$WORK/out" 2>"$WORK/err" && ok "TLS from XROUTE_TLS_CA / XROUTE_TLS_NAME" || bad "TLS from XROUTE_TLS_CA / XROUTE_TLS_NAME"
"$XR" balances 61 --credentials "$WORK/tls/credentials" >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: IO: " "$WORK/err" && ok "plain TCP to the TLS port: exit 1, IO" || bad "plain TCP to the TLS port: exit 1, IO"
"$XR" balances 61 --credentials "$WORK/tls/credentials" --tls-ca "$TLS/other-ca.pem" --tls-name localhost >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: UNAUTHORIZED: " "$WORK/err" && ok "an untrusted CA: exit 1, UNAUTHORIZED" || bad "an untrusted CA: exit 1, UNAUTHORIZED"
"$XR" balances 61 --credentials "$WORK/tls/credentials" --tls-ca "$TLS/ca.pem" --tls-name example.com >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: UNAUTHORIZED: " "$WORK/err" && ok "a name the certificate does not carry: exit 1, UNAUTHORIZED" || bad "a name the certificate does not carry: exit 1, UNAUTHORIZED"
"$XRB" brief $T --pair BTC/USDT --customer 62 >"$WORK/out" 2>"$WORK/err"
[ $? -eq 0 ] && grep -q "^== brief scenario: passed" "$WORK/out" && ok "TLS: xroute-bank brief passed" || bad "TLS: xroute-bank brief passed"
kill -TERM "$HOST_PID"
wait "$HOST_PID"
st=$?
HOST_PID=
[ $st -eq 0 ] && ok "TLS bank_host exits 0 on SIGTERM" || bad "TLS bank_host exits 0 on SIGTERM (got $st)"

echo "# $N checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
