package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// FuzzDecode: Decode agrees with encoding/json (with
// UseNumber) on every input it accepts, and refuses only what
// encoding/json refuses or what repeats a name.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"sub":"user_1","exp":1767225600,"o":{"rol":"admin","per":"a,b"},"fva":[0,-1]}`,
		`{"a":"\u00e9\ud83d\ude00\n","b":[true,false,null,{}],"c":-0.5e+10}`,
		`{"a":1,"a":2}`, `{"o":{"x":1,"x":2}}`, `{"s":"\xff"}`, `{"s":"\ud800"}`, ` {} `, `{}x`, `[]`,
		`{"a":01}`, `{"a":1.}`, `{"a":"x\u00"}`, `{"a":"` + "\x01" + `"}`, `{"a" 1}`, `{"a":[1,]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The fuzzer minimises every new interesting input for up to
		// -fuzzminimizetime (60s) and reports no executions meanwhile; with
		// inputs of kilobytes, each minimising step (two full decodes and a
		// deep comparison) is slow enough to stall a short run at 0 execs/s.
		// Real payloads are about 600 bytes; nesting depth, the one
		// size-dependent limit, has its own test (TestDecodeDepth).
		if len(b) > 1024 {
			return
		}
		ours, err := Decode(b)
		owned, ownedErr := DecodeOwned(bytes.Clone(b))
		if (err == nil) != (ownedErr == nil) || !reflect.DeepEqual(ours, owned) {
			t.Fatalf("%q: Decode and DecodeOwned disagree", b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var ref map[string]any
		refErr := dec.Decode(&ref)
		if refErr == nil && (ref == nil || len(bytes.Trim(b[dec.InputOffset():], " \t\n\r")) > 0) {
			refErr = errors.New("not exactly one object")
		}
		switch {
		case err == nil && refErr != nil:
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, refErr)
		case err == nil && !reflect.DeepEqual(ours, ref):
			t.Fatalf("%q: decoded %#v, encoding/json %#v", b, ours, ref)
		case err != nil && refErr == nil && !errors.Is(err, ErrDuplicate):
			t.Fatalf("refused %q (%v), which encoding/json accepts", b, err)
		}
	})
}

// FuzzMembers: the scan for top-level members (the webhook's guess at a
// body's type) finds
// exactly the bytes encoding/json finds, on every valid object without
// repeated names.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{"type":"user.created","data":{"id":"u"}}`, `{"data":[1,{"a":"}"}],"type":"x"}`, `{"type":1}`,
		`{"a":"\"type\"","type":"t"}`, ` { "type" : "t" } `, `{"t\u0079pe":"x"}`, `{}`, `{"type":{"type":"in"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, data := Members(b, "type", "data")
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return // the fast scan is only a guess on invalid JSON
		}
		if _, err := Decode(b); errors.Is(err, ErrDuplicate) {
			return
		}
		if wantData, ok := m["data"]; data != nil && (!ok || !bytes.Equal(data, wantData)) {
			t.Fatalf("%q: found data %q, encoding/json %q", b, data, wantData)
		}
		want, present := m["type"]
		if !present {
			if got != nil && !bytes.Contains(b, []byte(`\`)) {
				t.Fatalf("%q: found %q, encoding/json finds no type", b, got)
			}
			return
		}
		if got != nil && !bytes.Equal(got, want) {
			t.Fatalf("%q: found %q, encoding/json %q", b, got, want)
		}
		if got == nil && !bytes.Contains(b, []byte(`\`)) {
			t.Fatalf("%q: missed the type %q", b, want)
		}
	})
}

// TestDecodeDepth: Decode's nesting limit is encoding/json's, exactly
// (FuzzDecode keeps its inputs small, so this bound has its own test).
func TestDecodeDepth(t *testing.T) {
	for _, n := range []int{MaxDepth, MaxDepth + 1} {
		for _, in := range [][]byte{
			[]byte(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)),
			[]byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}"),
		} {
			_, err := Decode(in)
			var ref map[string]any
			refErr := json.Unmarshal(in, &ref)
			assert.Equal(t, refErr == nil, err == nil, "depth %d: ours %v, encoding/json %v", n, err, refErr)
			if a, _ := Members(in, "a", ""); refErr == nil {
				assert.NotNil(t, a, "Members at depth %d", n)
			}
		}
	}
}

func TestPlainString(t *testing.T) {
	for raw, want := range map[string]string{`"user.created"`: "user.created", `"a\"b"`: "", `"x`: "", `1`: "", `""`: ""} {
		got, _ := PlainString([]byte(raw))
		assert.Equal(t, want, got, raw)
	}
}
