package e2etest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	chat "github.com/duplexrpc/duplex/gen/golang/testdata/chat/want"
	everything "github.com/duplexrpc/duplex/gen/golang/testdata/everything/want"
	"github.com/duplexrpc/duplex/runtime/wire"
)

// The generated JSON methods against encoding/json on structs of the same
// shape (without the generated methods, which encoding/json would call).

// stdUser is chat.User for encoding/json.
type stdUser struct {
	Name   string            `json:"name"`
	Since  time.Time         `json:"since"`
	Avatar []byte            `json:"avatar,omitempty"`
	Roles  []chat.Role       `json:"roles"`
	Prefs  map[string]string `json:"prefs"`
	Nick   *string           `json:"nick,omitempty"`
}

// stdScalars is everything.Scalars for encoding/json.
type stdScalars struct {
	Flag   bool      `json:"flag"`
	Small  int32     `json:"small"`
	Big    int64     `json:"big,string"`
	Usmall uint32    `json:"usmall"`
	Ubig   uint64    `json:"ubig,string"`
	Ratio  float64   `json:"ratio"`
	Text   string    `json:"text"`
	Blob   []byte    `json:"blob"`
	At     time.Time `json:"at"`
	ID     uuid.UUID `json:"id"`
}

func typicalUser() chat.User {
	nick := "countess"
	return chat.User{
		Name:   "Ada Lovelace",
		Since:  time.Date(2024, 3, 1, 12, 30, 15, 250000000, time.UTC),
		Avatar: []byte("\x89PNG\r\n\x1a\n0123456789abcdef0123456789abcdef"),
		Roles:  []chat.Role{chat.RoleMember, chat.RoleAdmin},
		Prefs:  map[string]string{"theme": "dark", "lang": "en-GB", "tz": "Europe/London"},
		Nick:   &nick,
	}
}

func typicalScalars() everything.Scalars {
	return everything.Scalars{
		Flag: true, Small: -12345, Big: 9007199254740993, Usmall: 4000000000, Ubig: 18446744073709551615,
		Ratio: 3.14159, Text: "hello, world", Blob: []byte("0123456789"),
		At: time.Date(2024, 3, 1, 12, 30, 15, 0, time.UTC), ID: uuid.MustParse("f47ac10b-58cc-4372-a567-0e02b2c3d479"),
	}
}

// TestBenchShapes checks that both sides of each benchmark handle the same
// JSON.
func TestBenchShapes(t *testing.T) {
	u := typicalUser()
	ours, err := u.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var su stdUser
	if err := json.Unmarshal(ours, &su); err != nil {
		t.Fatal(err)
	}
	std, err := json.Marshal(su)
	if err != nil {
		t.Fatal(err)
	}
	var back chat.User
	if err := back.UnmarshalJSON(std); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, u) {
		t.Errorf("User round trip through encoding/json:\n%+v\n%+v", back, u)
	}
	// encoding/json uses the generated methods.
	viaStd, err := json.Marshal(u)
	if err != nil || string(viaStd) != string(ours) {
		t.Errorf("json.Marshal(User) = %s, %v; want %s", viaStd, err, ours)
	}
	var viaStdBack chat.User
	if err := json.Unmarshal(ours, &viaStdBack); err != nil || !reflect.DeepEqual(viaStdBack, u) {
		t.Errorf("json.Unmarshal into User: %+v, %v", viaStdBack, err)
	}
	if err := json.Unmarshal([]byte(`{"name":1}`), &viaStdBack); err == nil {
		t.Error("json.Unmarshal into User accepted a number for a string")
	}

	s := typicalScalars()
	oursS, err := s.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ss stdScalars
	if err := json.Unmarshal(oursS, &ss); err != nil {
		t.Fatal(err)
	}
	if ss.Big != s.Big || ss.Ubig != s.Ubig || ss.ID != s.ID {
		t.Errorf("std read %+v", ss)
	}
}

func BenchmarkUser(b *testing.B) {
	u := typicalUser()
	data, _ := u.AppendJSON(nil)
	var su stdUser
	if err := json.Unmarshal(data, &su); err != nil {
		b.Fatal(err)
	}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = u.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := json.Marshal(&su); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var (
			d   wire.Decoder
			out chat.User
		)
		for b.Loop() {
			d.Reset(data, "")
			if err := out.DecodeJSON(&d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var out stdUser
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkScalars(b *testing.B) {
	s := typicalScalars()
	data, _ := s.AppendJSON(nil)
	var ss stdScalars
	if err := json.Unmarshal(data, &ss); err != nil {
		b.Fatal(err)
	}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = s.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := json.Marshal(&ss); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeJSON", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var (
			d   wire.Decoder
			out everything.Scalars
		)
		for b.Loop() {
			d.Reset(data, "")
			if err := out.DecodeJSON(&d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var out stdScalars
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
