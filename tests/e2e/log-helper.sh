#!/usr/bin/env bash
# Logging shim installed by rig.sh as $RIG_DIR/bin/docker-credential-<suffix>.
# It runs the helper named by $RIG_HELPER_REAL (the real docker-credential-ecr, or the
# stand-in fake-helper.sh) unchanged - same argv, stdin, env; stdout and stderr passed
# through, same exit status - and appends one JSON line per call to $RIG_HELPER_LOG:
#   {"action","stdin","argc","exit","stdout","t","ms"}
# so every flow can assert which actions a client ran, with which server URL, and what
# the helper answered, whichever helper is under test.
# stdout is logged verbatim: in this rig it holds only the test registry's password.
set -u
real=${RIG_HELPER_REAL:?RIG_HELPER_REAL not set}
input=$(cat; echo x); input=${input%x}    # keep trailing newlines exactly as sent
start=$(date +%s%N)
out=$(printf '%s' "$input" | "$real" "$@"; echo "x$?")
rc=${out##*x}; out=${out%x*}
end=$(date +%s%N)
if [ -n "${RIG_HELPER_LOG:-}" ]; then
    python3 -c 'import json,sys; a=sys.argv
print(json.dumps({"action":a[1],"stdin":a[2],"argc":int(a[3]),"exit":int(a[4]),"stdout":a[5],"t":int(a[6])/1e9,"ms":round((int(a[7])-int(a[6]))/1e6,1)}))' \
        "${1:-}" "$input" "$#" "$rc" "$out" "$start" "$end" >> "$RIG_HELPER_LOG"
fi
printf '%s' "$out"
exit "$rc"
