#!/usr/bin/env bash
# The demo the README opens with: `switchyard demo` runs it to the end with no failed request (DR,
# NAT, and the failover mode), and Ctrl-C in the middle leaves no namespace, process or rule behind.
. "$(dirname "$0")/prelude.sh"
trap 'e2e_report' EXIT

out=$("$bin" demo --requests 60 2>&1)
rc=$?
expect "switchyard demo exits 0" "$rc" -eq 0
check "it reports 60 answered, 0 failed" grep -q "results: 60 answered, 0 failed" <<<"$out"
check "rs1 logged the client's address" grep -q "rs1 answered [0-9]*; its nginx logged client address: 198.18.0.10" <<<"$out"
check "rs2 logged the client's address" grep -q "rs2 answered [0-9]*; its nginx logged client address: 198.18.0.10" <<<"$out"
check "the balancer removed its guard on the way out" grep -q "kernel guard table switchyard_eth0 removed" <<<"$out"

# NAT in the dual-stack mode: IPv4 NAT and NAT66 through one balancer, every other request over IPv6.
out=$("$bin" demo --mode nat --dual-stack --requests 40 2>&1)
expect "switchyard demo --mode nat --dual-stack exits 0" $? -eq 0
check "NAT demo: 40 answered, 0 failed" grep -q "results: 40 answered, 0 failed" <<<"$out"
check "NAT demo: the real servers logged the client's address" grep -q "rs1 answered [0-9]*; its nginx logged client address: 198.18.0.10" <<<"$out"
check "NAT demo: and its IPv6 address (NAT66)" grep -q "rs1 answered [0-9]*; its nginx logged client address: 198.18.0.10 ([0-9]* requests) 2001:db8::10 " <<<"$out"
check "NAT demo: the balancer answered neighbour discovery for the IPv6 VIP" grep -q "answering neighbour discovery for 2001:db8::100" <<<"$out"

out=$("$bin" demo --mode ha 2>&1)
expect "switchyard demo --mode ha exits 0" $? -eq 0
check "HA demo: lb2 took over from the SIGKILLed lb1" grep -q "takeover: lb2 became MASTER [0-9.]* s after the SIGKILL" <<<"$out"
check "HA demo: the client's neighbour entry is lb2's" grep -q "neighbour entry for 198.19.30.100: [0-9a-f:]* = lb2$" <<<"$out"
check "HA demo: the download is byte-exact" grep -q "identical to rs[12]'s big.bin: byte-exact" <<<"$out"
check "HA demo: no request failed after the takeover" grep -q "after it [1-9][0-9]* ok, 0 failed$" <<<"$out"
check "HA demo: it says PASS" grep -q "result: PASS" <<<"$out"
prefix=$(sed -n 's/.*namespaces \(sydemo[0-9]*-\)\*.*/\1/p' <<<"$out")
check "HA demo: no namespace of it is left (${prefix:-none found})" test -n "$prefix" -a -z "$(ip netns list | grep "^$prefix")"

# Ctrl-C: a background job of a script ignores SIGINT, so reset it to default before exec.
log=$(mktemp)
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    bash "$root/scripts/demo.sh" --requests 100000 >"$log" 2>&1 &
pid=$!
lab_wait_for "$log" "sending 100000" 30
sleep 1
# The demo's own processes (nginx, the balancer, clients), by its namespaces: other labs may run
# beside this one, so a machine-wide pgrep would count theirs.
demo_pids=$(for ns in $(ip netns list | awk -v p="^sydemo$pid-" '$1 ~ p {print $1}'); do ip netns pids "$ns"; done)
kill -INT "$pid"
wait "$pid"
rc=$?
expect "Ctrl-C ends the demo (status 130)" "$rc" -eq 130
check "no demo namespace is left" test -z "$(ip netns list | grep "^sydemo$pid-")"
check "the demo had processes in its namespaces ($(echo $demo_pids | wc -w))" test -n "$demo_pids"
alive() { for p in $demo_pids; do kill -0 "$p" 2>/dev/null && echo "$p"; done; }
check "none of them is left (nginx, the balancer, clients)" test -z "$(alive)"
rm -f "$log"
[ "$E2E_FAILED" -eq 0 ]
