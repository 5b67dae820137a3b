// Package utf8stream validates UTF-8 incrementally, for text messages that
// arrive as a sequence of WebSocket fragments (RFC 6455 §5.4, §5.6).
//
// RFC 6455 §8.1 requires an endpoint to fail the connection as soon as it
// receives text data that is not valid UTF-8, and recommends doing so even
// when the invalid bytes are split across fragments. A [Validator] is fed the
// payload of each fragment with [Validator.Write] as it arrives; Write reports
// false at the earliest byte after which the data can no longer be the prefix
// of valid UTF-8 (fail fast, Autobahn test suite case 6.x), and
// [Validator.Complete] reports, at the end of the message, whether the
// message ended on a code point boundary.
//
// The rules are exactly those of [unicode/utf8.Valid]: no overlong forms, no
// surrogate halves (U+D800..U+DFFF), nothing above U+10FFFF, and no 5- or
// 6-byte forms. Validation is a byte-at-a-time deterministic finite automaton
// in the style of Björn Höhrmann's decoder, with a fast path that skips eight
// ASCII bytes at a time. It never allocates.
package utf8stream
