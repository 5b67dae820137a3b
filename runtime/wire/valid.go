package wire

// Valid reports whether data is one JSON value with nothing but whitespace
// around it, as encoding/json.Valid does, but at any depth of nesting:
// encoding/json refuses more than 10000 levels, which is a limit of its
// own, not of the grammar. It takes strings as the grammar does (bytes
// that are not UTF-8, lone surrogate escapes), so that it tells input that
// is not JSON from JSON that a Decoder refuses. It does not recurse; it
// keeps one byte per open object or array.
func Valid(data []byte) bool {
	var open []byte // '{' or '[' per level
	p := skipWS(data, 0)
	for {
		// A value starts at p.
		if p >= len(data) {
			return false
		}
		switch c := data[p]; {
		case c == '{' || c == '[':
			p = skipWS(data, p+1)
			if p < len(data) && data[p] == c+2 { // '}' or ']': empty
				p++
				break
			}
			open = append(open, c)
			if c == '{' {
				if p = validKey(data, p); p < 0 {
					return false
				}
			}
			continue
		case c == '"':
			p = validString(data, p)
		case c == 't':
			p = validLiteral(data, p, "true")
		case c == 'f':
			p = validLiteral(data, p, "false")
		case c == 'n':
			p = validLiteral(data, p, "null")
		default:
			p = validNumber(data, p)
		}
		if p < 0 {
			return false
		}
		// The value ended at p: close what it ends, then expect a
		// comma and the next value, or the end of the input.
		for {
			p = skipWS(data, p)
			if len(open) == 0 {
				return p == len(data)
			}
			if p >= len(data) {
				return false
			}
			top := open[len(open)-1]
			if data[p] == top+2 {
				open = open[:len(open)-1]
				p++
				continue
			}
			if data[p] != ',' {
				return false
			}
			p = skipWS(data, p+1)
			if top == '{' {
				if p = validKey(data, p); p < 0 {
					return false
				}
			}
			break
		}
	}
}

func skipWS(data []byte, p int) int {
	for p < len(data) && (data[p] == ' ' || data[p] == '\t' || data[p] == '\n' || data[p] == '\r') {
		p++
	}
	return p
}

// validKey checks an object key and its colon at p and returns where the
// value starts, or -1.
func validKey(data []byte, p int) int {
	if p >= len(data) || data[p] != '"' {
		return -1
	}
	if p = validString(data, p); p < 0 {
		return -1
	}
	if p = skipWS(data, p); p >= len(data) || data[p] != ':' {
		return -1
	}
	return skipWS(data, p+1)
}

// validString checks the string whose quote is at p and returns the index
// after its closing quote, or -1.
func validString(data []byte, p int) int {
	for p++; p < len(data); {
		switch c := data[p]; {
		case c == '"':
			return p + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if p+1 >= len(data) {
				return -1
			}
			switch data[p+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p += 2
			case 'u':
				if p+6 > len(data) {
					return -1
				}
				for _, h := range data[p+2 : p+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				p += 6
			default:
				return -1
			}
		default:
			p++
		}
	}
	return -1
}

func validLiteral(data []byte, p int, lit string) int {
	if len(data)-p < len(lit) || string(data[p:p+len(lit)]) != lit {
		return -1
	}
	return p + len(lit)
}

// validNumber checks the number at p (RFC 8259 §6) and returns the index
// after it, or -1.
func validNumber(data []byte, p int) int {
	digits := func(p int) int {
		for p < len(data) && '0' <= data[p] && data[p] <= '9' {
			p++
		}
		return p
	}
	if p < len(data) && data[p] == '-' {
		p++
	}
	switch {
	case p >= len(data):
		return -1
	case data[p] == '0':
		p++
	case '1' <= data[p] && data[p] <= '9':
		p = digits(p)
	default:
		return -1
	}
	if p < len(data) && data[p] == '.' {
		q := digits(p + 1)
		if q == p+1 {
			return -1
		}
		p = q
	}
	if p < len(data) && (data[p] == 'e' || data[p] == 'E') {
		p++
		if p < len(data) && (data[p] == '+' || data[p] == '-') {
			p++
		}
		q := digits(p)
		if q == p {
			return -1
		}
		p = q
	}
	return p
}
