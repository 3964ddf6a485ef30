#!/usr/bin/env bash
# STAND-IN credential helper, only for proving the e2e rig works before the real
# docker-credential-ecr exists. Install it as `docker-credential-fake` in a PATH dir.
#
# Every call appends one JSON line {"action":..,"stdin":..,"argc":..} to $FAKE_HELPER_LOG
# (if set), so a test can assert which actions a client ran and with what server URL.
#
# $FAKE_HELPER_MODE picks the answer to `get`:
#   ok (default)  {"ServerURL":<stdin>,"Username":"AWS","Secret":$FAKE_HELPER_SECRET}
#   notfound      stdout "credentials not found in native keychain", exit 1 (the protocol's
#                 "no credentials" text: clients go on anonymously)
#   error         stdout "fake helper: simulated failure", a line on stderr, exit 1
# The default secret is the ECR emulator's password for account 123456789012.
set -u

action=${1:-}
input=$(cat)   # every action gets stdin (list/version get "unused" or nothing)

if [ -n "${FAKE_HELPER_LOG:-}" ]; then
    # python keeps the JSON escaping honest whatever the client sent.
    python3 -c 'import json,sys,time; print(json.dumps({"action":sys.argv[1],"stdin":sys.argv[2],"argc":int(sys.argv[3]),"t":time.time()}))' \
        "$action" "$input" "$#" >> "$FAKE_HELPER_LOG"
fi

case $action in
    get)
        case ${FAKE_HELPER_MODE:-ok} in
            notfound) echo "credentials not found in native keychain"; exit 1 ;;
            error) echo "fake helper: simulated stderr diagnostic" >&2
                   echo "fake helper: simulated failure"; exit 1 ;;
        esac
        # The server URL is echoed back as the helper protocol expects.
        python3 -c 'import json,sys; print(json.dumps({"ServerURL":sys.argv[1],"Username":"AWS","Secret":sys.argv[2]}))' \
            "$(printf '%s' "$input" | tr -d '\r\n')" "${FAKE_HELPER_SECRET:-123456789012-auth-token}"
        ;;
    store|erase) exit 0 ;;
    list) echo '{}' ;;
    version) echo "docker-credential-fake (e2e rig stand-in) 0" ;;
    *) echo "Usage: docker-credential-fake <store|get|erase|list|version>"; exit 1 ;;
esac
