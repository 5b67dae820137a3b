package runtime

// Tests of the typed adapters (method.go), calling their MethodFuncs
// directly; gen/golang/e2etest runs them through generated code and a
// real connection.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// failResult is a result whose JSON cannot be written.
type failResult struct{}

func (*failResult) AppendJSON(dst []byte) ([]byte, error) {
	return dst, errors.New("NaN is not a number")
}

// recorder records the guards and the handler that ran, in order.
type recorder []string

func (r *recorder) guard(name string, err error) Guard {
	return func(context.Context, *Session) error {
		*r = append(*r, name)
		return err
	}
}

func TestMethodRunsDecodeGuardsHandlerInOrder(t *testing.T) {
	var ran recorder
	refused := &Error{Code: "not_logged_in", Message: "refused by guard loggedIn"}
	say := func(_ context.Context, _ *Session, args benchSayArgs) (benchSayArgs, error) {
		ran = append(ran, "handler")
		return benchSayArgs{Text: strings.ToUpper(args.Text)}, nil
	}
	call := func(fn MethodFunc, args string) ([]byte, error) {
		ran = nil
		return fn(context.Background(), &Call{Name: "say", Args: []byte(args)}, []byte("prefix:"))
	}

	allow := Method(say, Command{Guards: []Guard{ran.guard("a", nil), ran.guard("b", nil)}})
	out, err := call(allow, `{"text":"hi"}`)
	if err != nil || string(out) != `prefix:{"text":"HI"}` || strings.Join(ran, ",") != "a,b,handler" {
		t.Errorf("allowed call: %q, %v, ran %v; want the result appended to dst after guards a, b", out, err, ran)
	}

	refuse := Method(say, Command{Guards: []Guard{ran.guard("a", nil), ran.guard("b", refused), ran.guard("c", nil)}})
	if _, err := call(refuse, `{"text":"hi"}`); err != refused || strings.Join(ran, ",") != "a,b" {
		t.Errorf("refused call: %v, ran %v; want the guard's error as it is, after a and b, and nothing else", err, ran)
	}

	// The arguments are decoded before any guard runs.
	_, err = call(refuse, `{"text":1}`)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeBadRequest || e.Message != "args.text: expected string, got number" || len(ran) != 0 {
		t.Errorf("bad arguments: %v, ran %v; want bad_request naming args.text and nothing run", err, ran)
	}
}

func TestMethodChecksHandlerErrors(t *testing.T) {
	declared := &Error{Code: "name_taken", Message: "taken"}
	undeclared := &Error{Code: "forbidden", Message: "hunter2"}
	own := &Error{Code: CodeUnimplemented, Message: "later"}
	plain := errors.New("disk full")
	for _, tc := range []struct {
		name string
		err  error
		same bool   // the error reaches the runtime as it is
		want string // else: a non-WireError whose text has this
	}{
		{"declared", declared, true, ""},
		{"runtime's own code", own, true, ""},
		{"no wire code", plain, true, ""},
		{"wrapped declared", wrap{declared}, true, ""},
		{"undeclared", undeclared, false, `command say returned the error code "forbidden", which it does not declare: forbidden: hunter2`},
	} {
		fns := map[string]MethodFunc{
			"Method": Method(func(context.Context, *Session, benchSayArgs) (benchSayArgs, error) {
				return benchSayArgs{}, tc.err
			}, Command{Errors: []string{"invalid_name", "name_taken"}}),
			"MethodNoResult": MethodNoResult(func(context.Context, *Session, benchSayArgs) error {
				return tc.err
			}, Command{Errors: []string{"invalid_name", "name_taken"}}),
			"MethodNoArgs": MethodNoArgs(func(context.Context, *Session) (benchSayArgs, error) {
				return benchSayArgs{}, tc.err
			}, Command{Errors: []string{"invalid_name", "name_taken"}}),
			"MethodNoArgsNoResult": MethodNoArgsNoResult(func(context.Context, *Session) error {
				return tc.err
			}, Command{Errors: []string{"invalid_name", "name_taken"}}),
		}
		for adapter, fn := range fns {
			_, err := fn(context.Background(), &Call{Name: "say", Args: []byte(`{"text":""}`)}, nil)
			if tc.same {
				if err != tc.err {
					t.Errorf("%s, %s: got %v, want the handler's error as it is", adapter, tc.name, err)
				}
				continue
			}
			var we WireError
			if err == nil || errors.As(err, &we) || err.Error() != tc.want {
				t.Errorf("%s, %s: got %v (a WireError: %v), want no WireError saying %q", adapter, tc.name, err, we != nil, tc.want)
			}
		}
	}
}

// wrap wraps an error, as handlers do with fmt.Errorf("...: %w").
type wrap struct{ err error }

func (w wrap) Error() string { return "wrapped: " + w.err.Error() }
func (w wrap) Unwrap() error { return w.err }

func TestMethodResultBugs(t *testing.T) {
	var we WireError
	bad := MethodNoArgs(func(context.Context, *Session) (failResult, error) {
		return failResult{}, nil
	}, Command{})
	_, err := bad(context.Background(), &Call{Name: "say"}, nil)
	if err == nil || errors.As(err, &we) || err.Error() != "encode say result: NaN is not a number" {
		t.Errorf("unencodable result: %v, want an error naming the result", err)
	}
}

func TestMethodShapesWithoutArgsOrResult(t *testing.T) {
	var ran recorder
	guards := Command{Guards: []Guard{ran.guard("g", nil)}}
	// Without arguments, args is not read at all: even a value that is not
	// an object passes, as it did before the adapters.
	notObject := []byte(`[1]`)
	noArgs := MethodNoArgs(func(context.Context, *Session) (benchSayArgs, error) {
		ran = append(ran, "handler")
		return benchSayArgs{Text: "t"}, nil
	}, guards)
	out, err := noArgs(context.Background(), &Call{Name: "c", Args: notObject}, nil)
	if err != nil || string(out) != `{"text":"t"}` || strings.Join(ran, ",") != "g,handler" {
		t.Errorf("MethodNoArgs: %q, %v, ran %v", out, err, ran)
	}
	ran = nil
	neither := MethodNoArgsNoResult(func(context.Context, *Session) error {
		ran = append(ran, "handler")
		return nil
	}, guards)
	out, err = neither(context.Background(), &Call{Name: "c", Args: notObject}, []byte("x"))
	if err != nil || string(out) != `x{}` || strings.Join(ran, ",") != "g,handler" {
		t.Errorf("MethodNoArgsNoResult: %q, %v, ran %v", out, err, ran)
	}
	ran = nil
	var got string
	noResult := MethodNoResult(func(_ context.Context, _ *Session, args benchSayArgs) error {
		ran = append(ran, "handler")
		got = args.Text
		return nil
	}, guards)
	out, err = noResult(context.Background(), &Call{Name: "c", Args: []byte(`{"text":"in"}`)}, nil)
	if err != nil || string(out) != `{}` || got != "in" || strings.Join(ran, ",") != "g,handler" {
		t.Errorf("MethodNoResult: %q, %v, args %q, ran %v", out, err, got, ran)
	}
	if _, err := noResult(context.Background(), &Call{Name: "c", Args: notObject}, nil); err == nil {
		t.Error("MethodNoResult accepted arguments that are not an object")
	}
}

// TestMethodAllocatesOnlyWhatTheArgumentsHold checks that a typed call
// allocates nothing of its own when its Call carries a decoder, as the
// Router's do: the arguments and the result live in the adapter's pooled
// slot (a local, reached through a type parameter's method, would
// escape), the decoder is the call's. What is left is the decoded string.
// It also checks that the slot goes back zeroed, so that a call sees
// nothing of the one before.
func TestMethodAllocatesOnlyWhatTheArgumentsHold(t *testing.T) {
	var got []benchSayArgs
	fn := Method(func(_ context.Context, _ *Session, args benchSayArgs) (benchSayArgs, error) {
		return args, nil
	}, Command{})
	var d wire.Decoder
	call := &Call{Name: "say", Args: []byte(`{"text":"hello"}`), dec: &d}
	dst := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		if _, err := fn(context.Background(), call, dst); err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 {
		t.Errorf("%v allocations per call, want 1 (the decoded string)", n)
	}
	record := MethodNoResult(func(_ context.Context, _ *Session, args benchSayArgs) error {
		got = append(got, args)
		return nil
	}, Command{})
	for _, args := range []string{`{"text":"first"}`, `{"text":"second"}`} {
		if _, err := record(context.Background(), &Call{Name: "say", Args: []byte(args), dec: &d}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got[0].Text != "first" || got[1].Text != "second" {
		t.Errorf("handler kept %+v, want its own copies of first and second", got)
	}
}
