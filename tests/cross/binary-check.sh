#!/bin/sh
# After a link: binary-check.sh BINARY BUDGET OBJDUMP [BANNED_REGEX [STRIP]]
# Fails when the code holds an instruction the target CPU lacks (BANNED_REGEX over
# objdump -d), strips the binary with STRIP when given, prints its size against its budget
# (bytes, 0 = none) and fails when it is over.
set -u
bin=$1
budget=$2
objdump=$3
banned=${4:-}
strip=${5:-}
# musl's ARM setjmp and longjmp save and restore FPU registers only after testing the
# kernel's HWCAP bits, so on a CPU without an FPU they never run those instructions (as
# in every busybox shell on such routers): their bodies are not checked.
guarded='<(__setjmp|_setjmp|setjmp|__longjmp|_longjmp|longjmp)>:'
if [ -n "$banned" ]; then
	dis=$($objdump -d "$bin") || { echo "binary-check: $objdump -d $bin failed" >&2; exit 1; }
	hits=$(printf '%s\n' "$dis" | awk -v g="$guarded" '/^[0-9a-f]+ <.*>:$/ { skip = $2 ~ g } !skip' |
	    grep -E "$banned" | head -n 5)
	if [ -n "$hits" ]; then
		echo "binary-check: ${bin%.tmp} uses instructions its CPU lacks:" >&2
		printf '%s\n' "$hits" >&2
		exit 1
	fi
fi
if [ -n "$strip" ]; then
	$strip "$bin" || exit 1
fi
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
exit 0
