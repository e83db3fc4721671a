/*
 * Fuzz entry for a whole POP3 session: USER/PASS and AUTH PLAIN, then the transaction
 * and update states against a real maildrop in a temp dir (see session.h).
 */
#include "pop3.h"
#include "session.h"

#include "replay.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_session(data, size, PROTO_POP3, pop3_session);
	return 0;
}
