/*
 * Prints the BearSSL memory of one TLS session as tls.c lays it out (server context
 * plus a full input buffer and a TLS_OUT_RECORD output buffer) next to the stock
 * bidirectional and half-duplex buffer sizes. Built and run by tests/bench.sh.
 */
#include <stdio.h>

#include <bearssl.h>

#include "params.h"

int
main(void)
{
	size_t ctx = sizeof(br_ssl_server_context);
	size_t ours = BR_SSL_BUFSIZE_INPUT + TLS_OUT_RECORD + (BR_SSL_BUFSIZE_OUTPUT - 16384);

	printf("br_ssl_server_context          %6zu bytes\n", ctx);
	printf("buffers, BR_SSL_BUFSIZE_BIDI   %6zu bytes  (total %zu)\n",
	    (size_t)BR_SSL_BUFSIZE_BIDI, ctx + BR_SSL_BUFSIZE_BIDI);
	printf("buffers, BR_SSL_BUFSIZE_MONO   %6zu bytes  (total %zu; half duplex)\n",
	    (size_t)BR_SSL_BUFSIZE_MONO, ctx + BR_SSL_BUFSIZE_MONO);
	printf("buffers, mailnook (in + %d out) %6zu bytes  (total %zu per session)\n",
	    TLS_OUT_RECORD, ours, ctx + ours);
	return 0;
}
