#!/bin/sh
# The function used by most compatibility groups. It picks a behaviour from
# the request path (Http_Path) or, without one (cgi_headers=false), from its
# first argument, and notes that it ran in $COMPAT_SEEN (read by the recorder).
# Default behaviour: report what it saw (argv, Http_* and a few other
# variables, stdin).
what="${Http_Path:-/fn/$1}"
case "$what" in
/fn/*) ;;
*) what=/fn/env ;;
esac
what="${what#/fn/}"
what="${what%%/*}"
if [ -n "$COMPAT_SEEN" ]; then
	printf 'ran %s %s %s\n' "$what" "${Http_Method:--}" "${Http_Path:--}" >> "$COMPAT_SEEN"
fi

# every behaviour that does not use stdin reads it all first: a function that
# exits while the watchdog still writes the body makes the Go watchdog's
# answer depend on timing (EPIPE or not)
case "$what" in
echo|stdin|env) ;;
*) cat > /dev/null ;;
esac

report_stdin() {
	f="$TMPDIR/stdin.$$"
	cat > "$f"
	n=$(wc -c < "$f")
	printf 'stdin-length: %s\n' "$n"
	if [ "$n" -le 512 ] && LC_ALL=C grep -q '^' "$f" 2>/dev/null && ! LC_ALL=C grep -q '[^[:print:][:space:]]' "$f"; then
		printf 'stdin: '
		cat "$f"
		printf '\n'
	else
		printf 'stdin-sha256: %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)"
	fi
	rm -f "$f"
}

case "$what" in
echo)
	exec cat ;;
stdin)
	report_stdin ;;
exit-after)
	printf 'partial output\n'
	exit 3 ;;
exit-before)
	exit 3 ;;
kill9-after)
	printf 'partial output\n'
	kill -9 $$ ;;
kill9)
	kill -9 $$ ;;
slow)
	exec sleep 2 ;;
slow-after)
	printf 'first line\n'
	exec sleep 2 ;;
silent)
	exit 0 ;;
stderr)
	printf 'to stderr 1\n' >&2
	printf 'to stdout\n'
	printf 'to stderr 2\n' >&2
	# let the watchdog read stderr before the exit (the Go watchdog can lose
	# the last lines when the function exits at once)
	sleep 0.1 ;;
stderr-flood)
	i=0
	while [ $i -lt 200 ]; do
		printf 'stderr line %03d of the flood\n' $i
		i=$((i + 1))
	done >&2
	printf 'flooded\n'
	sleep 0.2 ;;
stderr-long)
	# one 100000-byte line (over the default 64 KiB log buffer), then a short one
	head -c 100000 /dev/zero | tr '\0' 'x' >&2
	printf '\nafter the long line\n' >&2
	printf 'long line written\n'
	sleep 0.2 ;;
big)
	head -c 1048576 /dev/zero | tr '\0' 'y' ;;
ready)
	printf 'ready from function\n' ;;
notready)
	printf 'not ready\n'
	exit 1 ;;
*)
	printf 'argv:'
	printf ' [%s]' "${0##*/}" "$@"
	printf '\n'
	env | LC_ALL=C sort | LC_ALL=C grep -E '^(Http_|COMPAT_VAR=|content_type=|fprocess=)'
	report_stdin ;;
esac
