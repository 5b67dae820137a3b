package runtime

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// member is a member of a client envelope that protocol v1 knows, as a bit
// of envelope.seen.
type member uint8

const (
	memberID member = 1 << iota
	memberCall
	memberArgs
	memberCancel
	memberPing
	memberHello
)

// kinds are the members that say what an envelope is: a call, a cancel, a
// ping or a hello. id and args are members of calls.
const kinds = memberCall | memberCancel | memberPing | memberHello

// memberOf returns the member named key, 0 for a member v1 does not know.
func memberOf(key []byte) member {
	switch string(key) {
	case "id":
		return memberID
	case "call":
		return memberCall
	case "args":
		return memberArgs
	case "cancel":
		return memberCancel
	case "ping":
		return memberPing
	case "hello":
		return memberHello
	}
	return 0
}

// String returns the member's name.
func (m member) String() string {
	switch m {
	case memberID:
		return "id"
	case memberCall:
		return "call"
	case memberArgs:
		return "args"
	case memberCancel:
		return "cancel"
	case memberPing:
		return "ping"
	case memberHello:
		return "hello"
	}
	return "?"
}

// kindList names the kind members in k: "call and cancel".
func kindList(k member) string {
	var names []string
	for _, m := range []member{memberCall, memberCancel, memberPing, memberHello} {
		if k&m != 0 {
			names = append(names, m.String())
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// envelope is a decoded client frame: the known members it has, their
// values, and what is wrong with them. A member that is present but
// unusable (of the wrong type or range, or given twice) has its bit in
// seen and an error, the first one found for it.
type envelope struct {
	seen   member // the known members present, usable or not
	id     int64
	call   []byte // the command's name; valid until the envelope decoder is reused
	args   []byte // the raw "args" object; nil when absent
	trace  []byte // the raw "trace" object; nil when absent or not an object
	cancel int64
	ping   int64
	resume string // hello.resume
	seq    int64  // hello.seq
	// What is wrong with id; with call or args; with cancel; with ping;
	// with hello.
	idErr, callErr, cancelErr, pingErr, helloErr error
}

// usableID reports whether the envelope has an id that a reply can name.
func (e *envelope) usableID() bool { return e.seen&memberID != 0 && e.idErr == nil }

// envelopeDecoder decodes envelopes without allocating: its decoders'
// scratch space and the copy of the command name are reused (pooled).
type envelopeDecoder struct {
	d     wire.Decoder // reads the frame
	v     wire.Decoder // reads one member's value
	name  []byte
	e     envelope
	clean bool // wire's decoder read the whole frame: it needed no second pass
}

var envelopeDecoders = sync.Pool{New: func() any { return new(envelopeDecoder) }}

// decode reads a client frame into ed.e. A frame that is not a JSON
// object gives an error (the connection is closed with 1007); what is
// wrong with the members of one is recorded in ed.e, whatever their
// order, to be answered.
//
// The grammar alone decides what is JSON (wire.Valid, fuzzed against
// encoding/json's scanner). wire's decoder reads the members in one pass;
// it accepts only valid JSON (FuzzDecoderSkip), so a frame it reads from
// end to end needs no second look. Where it stops, the frame is either
// not JSON (wire.Valid says so, and wire's decoder words the error), or
// valid JSON that wire's stricter decoder refuses somewhere (a lone
// surrogate escape, nesting deeper than wire.MaxDepth, even past the
// 10000 levels of encoding/json.Valid).
// Then validMembers splits the object into its members without judging
// them, so that such a value in one member neither hides the others nor
// closes the connection, and in a member v1 does not know is ignored like
// the rest of it.
func (ed *envelopeDecoder) decode(data []byte) error {
	ed.e = envelope{}
	d := &ed.d
	d.Reset(data, "")
	// wire's decoder words the error.
	if k := d.Peek(); k != wire.Object {
		got := k.String()
		if len(bytes.TrimSpace(data)) == 0 {
			got = "end of input"
		}
		return d.Errorf("expected object, got %s", got)
	}
	if ed.clean = ed.members() && d.End() == nil; ed.clean {
		return nil
	}
	ed.e = envelope{}
	if !wire.Valid(data) {
		d.Reset(data, "")
		if err := d.Skip(); err != nil {
			return err
		}
		if err := d.End(); err != nil {
			return err
		}
		return errors.New("not valid JSON")
	}
	ed.validMembers(data)
	return nil
}

// members reads the members of the object at ed.d, each value whole (and
// so validated) by wire's decoder, and reports whether it read the object
// to its end.
func (ed *envelopeDecoder) members() bool {
	d := &ed.d
	if err := d.BeginObject(); err != nil {
		return false
	}
	for {
		key, more, err := d.NextMember()
		if err != nil {
			return false
		}
		if !more {
			return true
		}
		// Before Raw, which may reuse key's bytes.
		m := memberOf(key)
		isTrace := m == 0 && string(key) == "trace"
		value, err := d.Raw()
		if err != nil {
			return false
		}
		switch {
		case m != 0:
			ed.member(m, value, true)
		case isTrace:
			ed.trace(value)
		}
		// Later protocol versions may add members: others are ignored.
	}
}

// validMembers reads the members of data, a JSON object that is valid
// JSON, finding where each one's key and value end without reading them.
// A key that wire's decoder cannot read (a lone surrogate escape) is not
// one v1 knows.
func (ed *envelopeDecoder) validMembers(data []byte) {
	o := validObject{data: data}
	for key, value, ok := o.next(); ok; key, value, ok = o.next() {
		ed.v.Reset(key, "")
		if name, err := ed.v.StringBytes(); err == nil {
			switch m := memberOf(name); {
			case m != 0:
				ed.member(m, value, false)
			case string(name) == "trace":
				ed.trace(value)
			}
		}
	}
}

// validObject walks the members of a JSON object in valid JSON: it finds
// where each key and value ends without reading them.
type validObject struct {
	data []byte // the object, valid JSON
	p    int    // where the next member (or the end) is; 0 before '{'
}

// next returns the next member's key (as written, quotes and escapes
// included) and value, or false at the end.
func (o *validObject) next() (key, value []byte, ok bool) {
	data, p := o.data, o.p
	if p == 0 {
		p = skipSpace(data, 0) + 1 // past '{'
	}
	p = skipSpace(data, p)
	if p < len(data) && data[p] == ',' {
		p = skipSpace(data, p+1)
	}
	if p >= len(data) || data[p] == '}' {
		return nil, nil, false
	}
	end := validEnd(data, p)
	key = data[p:end]
	p = skipSpace(data, skipSpace(data, end)+1) // past ':'
	end = validEnd(data, p)
	o.p = end
	return key, data[p:end], true
}

func skipSpace(data []byte, p int) int {
	for p < len(data) && (data[p] == ' ' || data[p] == '\t' || data[p] == '\n' || data[p] == '\r') {
		p++
	}
	return p
}

// validEnd returns the end of the value that starts at data[p], in valid
// JSON.
func validEnd(data []byte, p int) int {
	depth := 0
	for ; p < len(data); p++ {
		switch data[p] {
		case '"':
			for p++; p < len(data) && data[p] != '"'; p++ {
				if data[p] == '\\' {
					p++
				}
			}
			if depth == 0 {
				return p + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return p + 1
			}
		default:
			if depth == 0 { // a number, true, false or null
				for p < len(data) && !strings.ContainsRune(",}] \t\n\r", rune(data[p])) {
					p++
				}
				return p
			}
		}
	}
	return p
}

// member records the member m, whose value is the JSON text value (valid
// JSON). checked: wire's decoder has read the value whole, so that args
// need no second look.
func (ed *envelopeDecoder) member(m member, value []byte, checked bool) {
	e, v := &ed.e, &ed.v
	v.Reset(value, m.String()) // error messages name the member
	dup := e.seen&m != 0
	e.seen |= m
	var err error
	switch m {
	case memberID:
		e.id, err = v.Int()
	case memberCall:
		var name []byte
		if name, err = v.StringBytes(); err == nil {
			// Copied: the bytes may be the decoder's scratch space.
			ed.name = append(ed.name[:0], name...)
			e.call = ed.name
		}
	case memberArgs:
		switch {
		case v.Peek() != wire.Object:
			err = v.Errorf("expected object, got %s", v.Peek())
		case !checked:
			err = v.Skip()
		}
		if err == nil {
			e.args = value
		}
	case memberCancel:
		e.cancel, err = v.Int()
	case memberPing:
		e.ping, err = v.Int()
	case memberHello:
		err = ed.hello(value)
	}
	if dup {
		err = &wire.Error{Path: m.String(), Msg: "duplicate field"}
	}
	if err == nil {
		return
	}
	var slot *error
	switch m {
	case memberID:
		slot = &e.idErr
	case memberCall, memberArgs:
		slot = &e.callErr
	case memberCancel:
		slot = &e.cancelErr
	case memberPing:
		slot = &e.pingErr
	default:
		slot = &e.helloErr
	}
	if *slot == nil {
		*slot = err
	}
}

// trace records the optional "trace" member of a call, value (valid
// JSON), for Call.Trace. It is not one of the members that decide what
// an envelope is, and nothing about it is an error: a value that is not
// an object, or a second trace member, is ignored, as a server that does
// not know the member ignores it.
func (ed *envelopeDecoder) trace(value []byte) {
	if ed.e.trace == nil && len(value) > 0 && value[0] == '{' {
		ed.e.trace = value
	}
}

// hello reads the object of a hello, value (valid JSON). Its members
// that v1 does not know are not read at all, as an envelope's are not.
func (ed *envelopeDecoder) hello(value []byte) error {
	e, v := &ed.e, &ed.v
	v.Reset(value, "hello")
	if k := v.Peek(); k != wire.Object {
		return v.Errorf("expected object, got %s", k)
	}
	var hasResume, hasSeq bool
	o := validObject{data: value}
	for key, val, ok := o.next(); ok; key, val, ok = o.next() {
		v.Reset(key, "")
		name, err := v.StringBytes()
		if err != nil {
			continue // not a member v1 knows
		}
		switch string(name) {
		case "resume":
			if hasResume {
				return &wire.Error{Path: "hello.resume", Msg: "duplicate field"}
			}
			hasResume = true
			v.Reset(val, "hello.resume")
			if e.resume, err = v.String(); err != nil {
				return err
			}
		case "seq":
			if hasSeq {
				return &wire.Error{Path: "hello.seq", Msg: "duplicate field"}
			}
			hasSeq = true
			v.Reset(val, "hello.seq")
			if e.seq, err = v.Int(); err != nil {
				return err
			}
			if e.seq < 0 {
				return v.Errorf("%d is not an integer in [0, %d]", e.seq, 1<<53-1)
			}
		}
	}
	return nil
}
