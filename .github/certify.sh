#!/usr/bin/env bash
# The script of the l402chaos certify action (action.yml): builds chaos,
# lnd and btcd, certifies the client, writes the certificate's Markdown to
# the job summary and the verdict to the step's outputs. Exit 0 certified,
# 1 a MUST or SAFETY rule failed, 3 one could not be judged (0 when
# L402_ACTION_FAIL_ON_UNKNOWN is false), 64 bad input.
# Runs in the client's repository (the working directory); the l402chaos
# checkout is GITHUB_ACTION_PATH.
set -euo pipefail

action=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set: run this as the l402chaos action}
tmp=${RUNNER_TEMP:-$(mktemp -d)}
out=${L402_ACTION_OUT:-l402chaos-certificate}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
outputs=${GITHUB_OUTPUT:-/dev/null}
case ${L402_ACTION_FAIL_ON_UNKNOWN:-true} in
true | false) ;;
*)
	echo "l402chaos: fail-on-unknown: want true or false, got '${L402_ACTION_FAIL_ON_UNKNOWN}'" >&2
	exit 64
	;;
esac

echo "::group::build chaos, lnd and btcd"
(cd "$action" && go build -o "$tmp/chaos" ./cmd/chaos && "$tmp/chaos" build)
echo "::endgroup::"

args=(certify -out "$out")
[ -n "${L402_ACTION_CLIENT_CMD:-}" ] && args+=(-client-cmd "$L402_ACTION_CLIENT_CMD")
[ -n "${L402_ACTION_CLIENT_NAME:-}" ] && args+=(-client-name "$L402_ACTION_CLIENT_NAME")
[ -n "${L402_ACTION_DESCRIPTOR:-}" ] && args+=(-descriptor "$L402_ACTION_DESCRIPTOR")
if [ -n "${L402_ACTION_ARGS:-}" ]; then
	# Extra flags, split on blanks (no shell expansion).
	read -r -a extra <<<"$L402_ACTION_ARGS"
	args+=("${extra[@]}")
fi

set +e
"$tmp/chaos" "${args[@]}"
code=$?
set -e

verdict=unknown
case $code in
0) verdict=pass ;;
1) verdict=fail ;;
esac
echo "verdict=$verdict" >>"$outputs"
if [ -f "$out/certificate.md" ]; then
	cat "$out/certificate.md" >>"$summary"
else
	echo "l402chaos certify wrote no certificate (exit $code)" >>"$summary"
fi
if [ "$code" -eq 3 ] && [ "${L402_ACTION_FAIL_ON_UNKNOWN:-true}" = false ]; then
	echo "l402chaos: some rules could not be judged; fail-on-unknown is false"
	exit 0
fi
exit "$code"
