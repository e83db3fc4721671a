#!/bin/sh
# After a link: binary-check.sh BINARY BUDGET OBJDUMP [BANNED_REGEX]
# Prints the binary's size against its budget (bytes, 0 = none) and fails when it is over,
# or when its code holds an instruction the target CPU lacks (BANNED_REGEX over objdump -d).
set -u
bin=$1
budget=$2
objdump=$3
banned=${4:-}
size=$(wc -c <"$bin") || exit 1
name=${bin%.tmp}
if [ "$budget" -gt 0 ]; then
	echo "size: $name $size bytes, budget $budget ($((size * 100 / budget))%)"
	if [ "$size" -gt "$budget" ]; then
		echo "size: $name is $((size - budget)) bytes over its budget" >&2
		exit 1
	fi
else
	echo "size: $name $size bytes"
fi
[ -z "$banned" ] && exit 0
dis=$($objdump -d "$bin") || { echo "binary-check: $objdump -d $bin failed" >&2; exit 1; }
hits=$(printf '%s\n' "$dis" | grep -E "$banned" | head -n 5)
if [ -n "$hits" ]; then
	echo "binary-check: $name uses instructions its CPU lacks:" >&2
	printf '%s\n' "$hits" >&2
	exit 1
fi
exit 0
