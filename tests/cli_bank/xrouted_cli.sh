#!/bin/sh
# cli.bank_xrouted: the CLI and xroute-bank against a real xrouted on its embedded defaults
# (temporary data directory, ephemeral port, its demo bank from <data_dir>/demo-bank.env).
# xrouted's simulated books move (a seeded random walk), so prices are not known in advance:
# every amount is checked against the others by docs/ledger.md's rules ("Rounding") in
# python3 - quote = notional + fees + spread, spread = floor((notional + fees) x 150 / 10^4),
# the balance moved by exactly what the report says - and the ledger verifies at the end.
#
# usage: xrouted_cli.sh XROUTE XROUTE_BANK XROUTED WORKDIR
set -u
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
XR=$(abs "$1")
XRB=$(abs "$2")
XRD=$(abs "$3")
WORK=$4
rm -rf "$WORK"
mkdir -p "$WORK"
FAILS=0
N=0
PID=
cleanup() {
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
}
trap cleanup EXIT INT TERM
ok() { N=$((N + 1)); echo "ok   $N $1"; }
bad() {
    N=$((N + 1)); FAILS=$((FAILS + 1)); echo "FAIL $N $1"
    sed 's/^/     out: /' "$WORK/out" | head -n 20; sed 's/^/     err: /' "$WORK/err" | head -n 20
}
json() {
    if python3 -c 'import json,sys
from decimal import Decimal as D
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$WORK/out" "$1" 2>>"$WORK/err"; then ok "$2"; else bad "$2 [$1]"; fi
}

"$XRD" --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/xrouted.out" 2>"$WORK/xrouted.err" &
PID=$!
i=0
until grep -q '^xrouted ready ' "$WORK/xrouted.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$PID" 2>/dev/null; then
        echo "xrouted did not start:"; cat "$WORK/xrouted.out" "$WORK/xrouted.err"; exit 1
    fi
    sleep 0.1
done
# the port actually listened on is in the readiness line (the configured one is 0)
CONNECT=$(sed -n 's/^xrouted ready bank=\([^ ]*\) .*/\1/p' "$WORK/xrouted.out")
C="--credentials $WORK/data/demo-bank.env --connect $CONNECT"
echo "# xrouted on $CONNECT"

"$XR" customer 5 --tier 1 --json $C >"$WORK/out" 2>"$WORK/err" && ok "customer" || bad "customer"
json 'd["created"]==True and d["kyc_tier"]==1' "customer 5 registered"
"$XR" fund 5 1000 USDT --json $C >"$WORK/out" 2>"$WORK/err" && ok "fund" || bad "fund"
json 'd["amount"]=="1000.000000" and d["replayed"]==False' "funded 1000.000000 USDT"
"$XR" book BTC/USDT --depth 5 --json $C >"$WORK/out" 2>"$WORK/err" && ok "book" || bad "book"
json 'len(d["bids"])==5 and len(d["asks"])==5 and all(D(q)>0 for p,q in d["bids"]+d["asks"])' "book: 5 levels a side"
KEY=00000000000000000000000000000b05
"$XR" buy 5 BTC/USDT 0.001 --key $KEY --json $C >"$WORK/out" 2>"$WORK/err" && ok "buy" || bad "buy"
cp "$WORK/out" "$WORK/buy.json"
json 'd["status"]=="FILLED" and d["filled"]=="0.00100000"' "buy 0.001 BTC FILLED"
json 'D(d["quote"])==D(d["notional"])+D(d["fees"])+D(d["spread"])' "paid = notional + fees + spread"
json 'int(D(d["spread"])*10**6)==(int((D(d["notional"])+D(d["fees"]))*10**6)*150)//10000' "spread = floor(E x 150 / 10^4)"
json 'int(D(d["fees"])*10**6)>=int(D(d["notional"])*10**6)*10//10000' "venue fee at least 10 bps"
"$XR" buy 5 BTC/USDT 0.001 --key $KEY --json $C >"$WORK/out" 2>"$WORK/err" && ok "buy again" || bad "buy again"
PAID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["quote"])' "$WORK/buy.json")
json 'd["replayed"]==True and d["quote"]=="'"$PAID"'"' "the same key: replayed, the same $PAID USDT"
"$XR" balances 5 --json $C >"$WORK/out" 2>"$WORK/err" && ok "balances" || bad "balances"
json '{b["asset"]:D(b["balance"]) for b in d["balances"]}["USDT"]==D(1000)-D("'"$PAID"'") and {b["asset"]:b["balance"] for b in d["balances"]}["BTC"]=="0.00100000"' "balances: 1000 - $PAID USDT, 0.001 BTC (one buy booked)"
"$XR" buy 5 BTC/USDT 1 --json $C >"$WORK/out" 2>"$WORK/err"
[ $? -eq 1 ] && grep -q "^error: INSUFFICIENT_FUNDS: " "$WORK/err" && ok "a buy beyond the balance: INSUFFICIENT_FUNDS" || bad "a buy beyond the balance: INSUFFICIENT_FUNDS"
"$XR" order 5 $KEY --json $C >"$WORK/out" 2>"$WORK/err" && ok "order" || bad "order"
json 'd["status"]=="FILLED" and len(d["children"])>=1 and sum(D(c["filled"]) for c in d["children"])==D("0.001")' "order: children fill 0.001 BTC"
"$XR" orders 5 --json $C >"$WORK/out" 2>"$WORK/err" && ok "orders" || bad "orders"
json '[o["key"] for o in d["orders"]]==["'$KEY'"]' "orders: the one buy"
"$XR" ticker BTC/USDT --json $C >"$WORK/out" 2>"$WORK/err" && ok "ticker" || bad "ticker"
json 'D(d["bid"])>0 and D(d["ask"])>0 and D(d["bid_qty"])>0 and D(d["ask_qty"])>0' "ticker: both sides priced"
"$XR" pairs --json $C >"$WORK/out" 2>"$WORK/err" && ok "pairs" || bad "pairs"
json '[p["trading"] for p in d["pairs"] if p["pair"]=="BTC/USDT"]==[True]' "pairs: BTC/USDT trading"
"$XRB" brief $C --pair BTC/USDT --customer 6 >"$WORK/out" 2>"$WORK/err"
[ $? -eq 0 ] && grep -q "^== brief scenario: passed" "$WORK/out" && ok "xroute-bank brief on BTC/USDT" || bad "xroute-bank brief on BTC/USDT"

kill -TERM "$PID"
wait "$PID"
st=$?
PID=
[ $st -eq 0 ] && ok "xrouted stopped with exit 0" || bad "xrouted stopped with exit 0 (got $st)"
"$XR" ledger verify --data "$WORK/data" >"$WORK/out" 2>"$WORK/err" && ok "ledger verifies" || bad "ledger verifies"
echo "# $N checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
