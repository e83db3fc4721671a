# The OpenWrt init script (board/openwrt/mailnook/files/mailnook.init) under stand-ins for
# the rc.common/procd/UCI/network shell functions: the UCI options must become an argv that
# really serves POP3 (full login, STAT, RETR, QUIT); without listen entries it listens on
# the interface's addresses only; folder_* '-' means none; stderr goes to procd's log; and
# the script passes shellcheck.
. "$(dirname "$0")/../lib.sh"
INIT=$TESTS_DIR/../board/openwrt/mailnook/files/mailnook.init

if command -v shellcheck >/dev/null 2>&1; then
	check "shellcheck of the init script" shellcheck "$INIT"
else
	fail "shellcheck missing (apt-get install shellcheck)"
fi

add_user bob secret
make_msg 1 "via procd" | deliver_msg bob
PORT=$(free_port)
ARGS=$T/args
PARAMS=$T/params
LISTEN=yes

# UCI section 'main' of /etc/config/mailnook, as uci_load_validate would see it.
uci_value() {
	case "$1" in
	mail_root) echo "$MAIL" ;;
	passwd_file) echo "$T/passwd" ;;
	runtime_dir) echo "$T/run" ;;
	user) echo "$RUN_USER" ;;
	hostname) echo "test.example" ;;
	max_per_ip) echo 3 ;;
	folder_junk) echo Spam ;;
	folder_archive) echo - ;;
	log) echo stderr ;;
	listen) [ "$LISTEN" = yes ] && echo "127.0.0.1:$PORT pop3" ;;
	esac
}
config_load() { :; }
config_foreach() { f=$1; shift; "$f" main "$@"; }
config_get() {
	v=$(uci_value "$3")
	eval "$1=\${v:-\${4:-}}"
}
config_list_foreach() {
	v=$(uci_value "$2")
	[ -n "$v" ] && "$3" "$v"
}
# name:type[:default] specs: each option a variable, then the callback with the result.
uci_load_validate() {
	name=$3
	cb=$4
	shift 4
	for spec; do
		o=${spec%%:*}
		d=${spec#*:}
		case "$d" in *:*) d=${d##*:} ;; *) d= ;; esac
		case "$spec" in *'("'*) d= ;; esac
		v=$(uci_value "$o")
		eval "$o=\${v:-\$d}"
	done
	"$cb" "$name" 0
}
network_get_ipaddrs() { eval "$1='127.0.0.1'"; [ "$2" = lan ] || eval "$1=''"; }
network_get_ipaddrs6() { eval "$1=''"; }
network_get_ipaddr() { eval "$1='127.0.0.1'"; }
procd_open_instance() { :; }
procd_close_instance() { :; }
procd_set_param() {
	printf '%s\n' "$*" >>"$PARAMS"
	[ "$1" = command ] || return 0
	shift
	: >"$ARGS"
	for a; do printf '%s\n' "$a" >>"$ARGS"; done
}
procd_append_param() {
	[ "$1" = command ] || return 0
	shift
	for a; do printf '%s\n' "$a" >>"$ARGS"; done
}
# shellcheck disable=SC1090
. "$INIT"
PROG=$MAILNOOK
start_service() {
	config_load mailnook
	config_foreach validate_mailnook_section start_mailnook
}

start_service
check "UCI options became -o key=value" grep -qx "max_per_ip=3" "$ARGS"
check "folder_junk passed" grep -qx "folder_junk=Spam" "$ARGS"
check "folder_archive '-' passed as empty (not created)" grep -qx "folder_archive=" "$ARGS"
check "UCI list became one -o listen per entry" grep -qx "listen=127.0.0.1:$PORT pop3" "$ARGS"
check "listen entries win over the interface" test "$(grep -c '^listen=' "$ARGS")" = 1
check "command ends with serve -f" test "$(tail -n 2 "$ARGS" | tr '\n' ' ')" = "serve -f "
check "procd keeps serve's stderr" grep -qx "stderr 1" "$PARAMS"

set --
while IFS= read -r a; do set -- "$@" "$a"; done <"$ARGS"
"$@" >"$T/serve.log" 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
wait_port "$PORT" || { fail "the init script's command line did not serve"; cat "$T/serve.log"; exit 1; }
out=$(pop3_fetch "$PORT" bob secret)
case "$out" in
"stat 1 "*"Subject: via procd"*) ok "login, STAT, RETR, QUIT with the init script's argv" ;;
*) fail "login, STAT, RETR, QUIT with the init script's argv: $out" ;;
esac
kill "$SPID"

# No listen entries: the lan addresses, TLS ports when there is a certificate.
LISTEN=no
: >"$ARGS"
start_service
check "no listen entries: lan's address, POP3 and IMAP" \
	test "$(grep '^listen=' "$ARGS" | tr '\n' ' ')" = "listen=127.0.0.1:110 pop3 listen=127.0.0.1:143 imap "
interface=wan
: >"$ARGS"
start_mailnook main 0 2>"$T/err"
check "an interface without an address starts nothing, says why" \
	grep -q "interface wan has no address yet" "$T/err"
check "nothing started for it" test ! -s "$ARGS"
