# The OpenWrt init script (board/openwrt/files/mailnook.init) under stand-ins for the
# rc.common/procd/UCI shell functions: the UCI options must become an argv that really
# serves POP3 (full login, STAT, RETR, QUIT).
. "$(dirname "$0")/../lib.sh"

add_user bob secret
make_msg 1 "via procd" | deliver_msg bob
PORT=$(free_port)
ARGS=$T/args

# UCI section 'main' of /etc/config/mailnook, as config_get would see it.
uci_value() {
	case "$1" in
	mail_root) echo "$MAIL" ;;
	passwd_file) echo "$T/passwd" ;;
	runtime_dir) echo "$T/run" ;;
	user) echo "$RUN_USER" ;;
	hostname) echo "test.example" ;;
	max_per_ip) echo 3 ;;
	log) echo stderr ;;
	esac
}
config_load() { :; }
config_foreach() { "$1" main; }
config_get() {
	v=$(uci_value "$3")
	eval "$1=\${v:-\${4:-}}"
}
config_get_bool() { eval "$1=1"; }
config_list_foreach() {
	[ "$2" = listen ] && "$3" "127.0.0.1:$PORT pop3"
}
procd_open_instance() { :; }
procd_close_instance() { :; }
procd_set_param() {
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

. "$TESTS_DIR/../board/openwrt/files/mailnook.init"
PROG=$MAILNOOK
start_service

check "UCI options became -o key=value" grep -qx "max_per_ip=3" "$ARGS"
check "UCI list became one -o listen per entry" grep -qx "listen=127.0.0.1:$PORT pop3" "$ARGS"
check "command ends with serve -f" test "$(tail -n 2 "$ARGS" | tr '\n' ' ')" = "serve -f "

set --
while IFS= read -r a; do set -- "$@" "$a"; done <"$ARGS"
"$@" >"$T/serve.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$PORT" || { fail "the init script's command line did not serve"; cat "$T/serve.log"; exit 1; }
out=$(pop3_fetch "$PORT" bob secret)
case "$out" in
"stat 1 "*"Subject: via procd"*) ok "login, STAT, RETR, QUIT with the init script's argv" ;;
*) fail "login, STAT, RETR, QUIT with the init script's argv: $out" ;;
esac
