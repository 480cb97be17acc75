package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rst-bench/rst/suite/train"
)

// FuzzDecode: any bytes are either refused with an error naming the file,
// or are a record that encodes and decodes back to the same record.
func FuzzDecode(f *testing.F) {
	rec := sampleRecord(f)
	good, err := Encode(rec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte(`"steps": 3`), []byte(`"steps": 4`), 1))
	var flat bytes.Buffer
	json.Compact(&flat, good)
	f.Add(flat.Bytes())
	f.Add([]byte(`{"format":"rst-record/1","id":"","sha256":"","record":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Decode(b, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") || !strings.Contains(err.Error(), "delete it") {
				t.Fatalf("refusal does not name the file and the fix: %v", err)
			}
			return
		}
		if rec.ID != rec.Config.ID() {
			t.Fatalf("accepted record %s whose config hashes to %s", rec.ID, rec.Config.ID())
		}
		roundTrip(t, rec)
	})
}

// FuzzEncodeDecode: any record the store can encode, whatever its values,
// decodes back to the same record. The fuzzer cannot forge the checksum
// that guards Decode's later checks, so this target makes records from
// arbitrary JSON and files them under their config's hash.
func FuzzEncodeDecode(f *testing.F) {
	rec := sampleRecord(f)
	raw, err := json.Marshal(rec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"test_error":"+Inf","epochs":[{"test_loss":"-Inf"}],"config":{"method":{"params":{"k":2}}},"provenance":{"host":"\u2028<>&"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec train.Record
		if json.Unmarshal(b, &rec) != nil {
			return
		}
		rec.ID = rec.Config.ID()
		if _, err := json.Marshal(&rec); err != nil {
			return // e.g. a time outside years 0–9999: Encode must refuse it, below
		}
		roundTrip(t, &rec)
	})
}

// roundTrip encodes rec, decodes it, and checks that the decoded record
// encodes to the same bytes.
func roundTrip(t *testing.T, rec *train.Record) {
	t.Helper()
	enc, err := Encode(rec)
	if err != nil {
		t.Fatalf("a readable record does not encode: %v", err)
	}
	back, err := Decode(enc, "re-encoded.json")
	if err != nil {
		t.Fatalf("an encoded record does not decode: %v\n%s", err, enc)
	}
	again, err := Encode(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, again) {
		t.Fatalf("record changed in a round trip:\n%s\n%s", enc, again)
	}
}
