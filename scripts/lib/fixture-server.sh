# Sourced by the scripts that need a running desk: starts the debug binary on a free port in a
# fresh data directory, with two categories, two tags and an administrator's token. Sets
# $origin, $key, $token, $bin and $dir; stops the server and removes $dir on exit.

bin=./target/debug/supportdesk
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

export SUPPORTDESK_DATA_DIR="$dir" RUST_LOG=warn
unset DATABASE_URL
"$bin" serve --bind 127.0.0.1:0 --open-ticket-limit 100000 > "$dir/out" 2> "$dir/server.log" &
server=$!
for _ in $(seq 1 100); do grep -q '^listening on ' "$dir/out" 2>/dev/null && break; sleep 0.1; done
origin=$(sed -n 's/^listening on //p' "$dir/out")
[ -n "$origin" ] || { echo "the server did not start"; cat "$dir/server.log"; exit 1; }
key=$(sed -n 's/^ *apikey: //p' "$dir/out")

"$bin" category create --name Billing --description "Invoices" > /dev/null
"$bin" category create --name Technical --description "Bugs" > /dev/null
"$bin" tag create --name Urgent --keyword urgent > /dev/null
"$bin" tag create --name Refund --keyword refund > /dev/null
token=$("$bin" token create --email admin@localhost --ttl 7200 | tail -n 1)
