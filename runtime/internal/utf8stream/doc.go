// Package utf8stream validates UTF-8 incrementally, for text messages that
// arrive as a sequence of WebSocket fragments.
//
// A single text frame may end inside a UTF-8 sequence, but the whole message
// must be valid UTF-8 (RFC 6455 §5.6), and an endpoint that finds otherwise
// must fail the connection (§8.1, close code 1007, §7.4.1). A [Validator] is
// fed the payload of each fragment with [Validator.Write] as it arrives, so
// that the message need not be reassembled first; Write reports false for
// the piece holding the earliest byte after which the data can no longer be
// the prefix of valid UTF-8 (the "fail fast" behaviour checked by the
// Autobahn test suite, case 6.x), and [Validator.Complete] reports, at the
// end of the message, whether it ended on a code point boundary.
//
// The rules are exactly those of [unicode/utf8.Valid]: no overlong forms, no
// surrogate halves (U+D800..U+DFFF), nothing above U+10FFFF, and no 5- or
// 6-byte forms. Within a piece, whole sequences are checked the way
// utf8.Valid checks them, and ASCII is skipped up to 32 bytes at a time; a
// sequence split between pieces is carried over in a byte-at-a-time
// deterministic finite automaton in the style of Björn Höhrmann's decoder,
// whose state is all a [Validator] holds. It never allocates.
package utf8stream
