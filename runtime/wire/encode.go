package wire

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD; <, > and & are escaped so that output is safe inside HTML.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // line separators break JavaScript string literals
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendBool appends true or false.
func AppendBool(dst []byte, v bool) []byte { return strconv.AppendBool(dst, v) }

// AppendInt appends an integer as a JSON number (int32, uint32, ids).
func AppendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// AppendUint appends an unsigned integer as a JSON number.
func AppendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// AppendInt64 appends a 64-bit integer as a decimal string.
func AppendInt64(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"')
}

// AppendUint64 appends a 64-bit unsigned integer as a decimal string.
func AppendUint64(dst []byte, v uint64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, '"')
}

// ErrNotFinite is returned for NaN and infinities, which JSON cannot carry.
var ErrNotFinite = errors.New("wire: float64 is NaN or infinite")

// AppendFloat64 appends a finite float as a JSON number, in the shortest
// form that reads back to the same value.
func AppendFloat64(dst []byte, v float64) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, ErrNotFinite
	}
	abs := math.Abs(v)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		dst = strconv.AppendFloat(dst, v, 'e', -1, 64)
		// As encoding/json does: 1e-07 becomes 1e-7.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst, nil
	}
	return strconv.AppendFloat(dst, v, 'f', -1, 64), nil
}

// AppendBytes appends b as a standard base64 string.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// ErrTimeRange is returned for times outside the years 0000-9999, which
// RFC 3339 cannot write.
var ErrTimeRange = errors.New("wire: timestamp outside the years 0000-9999")

// AppendTime appends t in UTC as an RFC 3339 string with as many
// fractional digits as needed (up to nanoseconds).
func AppendTime(dst []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, ErrTimeRange
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

// AppendUUID appends u in its canonical lowercase form.
func AppendUUID(dst []byte, u uuid.UUID) []byte {
	var buf [36]byte
	hex := func(out []byte, in []byte) {
		for i, c := range in {
			out[2*i], out[2*i+1] = hexDigits[c>>4], hexDigits[c&0xf]
		}
	}
	hex(buf[0:8], u[0:4])
	buf[8] = '-'
	hex(buf[9:13], u[4:6])
	buf[13] = '-'
	hex(buf[14:18], u[6:8])
	buf[18] = '-'
	hex(buf[19:23], u[8:10])
	buf[23] = '-'
	hex(buf[24:36], u[10:16])
	dst = append(dst, '"')
	dst = append(dst, buf[:]...)
	return append(dst, '"')
}
