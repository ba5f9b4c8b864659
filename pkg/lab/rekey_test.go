package lab

import (
	"net/http"
	"reflect"
	"testing"
)

// obj returns an object of the given scheme as a listing reports it.
func obj(key, scheme, kmsKey string, size int64) Object {
	o := Object{Key: key, Size: size, Headers: http.Header{}}
	switch scheme {
	case SchemeKMS:
		o.SSE, o.KMSKeyID = "aws:kms", "arn:aws:kms:"+kmsKey
	case SchemeS3:
		o.SSE = "AES256"
	case SchemeC:
		o.CustomerKey = true
	}
	return o
}

func TestRekeyClassify(t *testing.T) {
	kmsB := BucketMode{Mode: ModeSSEKMS, Key: "b"}
	s3 := BucketMode{Mode: ModeSSES3}
	for _, c := range []struct {
		name      string
		o         Object
		target    BucketMode
		plaintext bool
		want      rekeyAction
	}{
		{"plaintext to kms", obj("x", SchemeNone, "", 1), kmsB, false, actRekey},
		{"sse-s3 to kms", obj("x", SchemeS3, "", 1), kmsB, false, actRekey},
		{"other key to kms", obj("x", SchemeKMS, "a", 1), kmsB, false, actRekey},
		{"same key", obj("x", SchemeKMS, "b", 1), kmsB, false, actAlready},
		{"sse-c", obj("x", SchemeC, "", 1), kmsB, false, actSkipSSEC},
		{"sse-c to sse-s3", obj("x", SchemeC, "", 1), s3, false, actSkipSSEC},
		{"sse-s3 to sse-s3", obj("x", SchemeS3, "", 1), s3, false, actAlready},
		{"kms to sse-s3", obj("x", SchemeKMS, "a", 1), s3, false, actRekey},
		{"only plaintext: plaintext", obj("x", SchemeNone, "", 1), kmsB, true, actRekey},
		{"only plaintext: sse-s3", obj("x", SchemeS3, "", 1), kmsB, true, actSkipEncrypted},
		{"only plaintext: other key", obj("x", SchemeKMS, "a", 1), kmsB, true, actSkipEncrypted},
		{"only plaintext: target", obj("x", SchemeKMS, "b", 1), kmsB, true, actAlready},
	} {
		if got := classify(c.o, c.target, c.plaintext); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

func TestRekeyPlan(t *testing.T) {
	objs := []Object{
		obj("a", SchemeNone, "", 10), obj("b", SchemeS3, "", 20), obj("c", SchemeKMS, "a", 30),
		obj("d", SchemeKMS, "b", 40), obj("e", SchemeC, "", 50), obj("f", SchemeKMS, "a", 60),
	}
	var r RekeyReport
	todo := planRekey(&r, objs, RekeyOptions{Target: BucketMode{Mode: ModeSSEKMS, Key: "b"}})
	var keys []string
	for _, o := range todo {
		keys = append(keys, o.Key)
	}
	if !reflect.DeepEqual(keys, []string{"a", "b", "c", "f"}) {
		t.Errorf("to rekey: got %v, want a b c f", keys)
	}
	wantGroups := []RekeyGroup{
		{Scheme: SchemeC, Objects: 1, Bytes: 50},
		{Scheme: SchemeKMS, Key: "a", Objects: 2, Bytes: 90},
		{Scheme: SchemeKMS, Key: "b", Objects: 1, Bytes: 40},
		{Scheme: SchemeS3, Objects: 1, Bytes: 20},
		{Scheme: SchemeNone, Objects: 1, Bytes: 10},
	}
	if !reflect.DeepEqual(r.Before, wantGroups) {
		t.Errorf("groups: got %+v, want %+v", r.Before, wantGroups)
	}
	if r.Objects != 6 || r.Bytes != 210 || r.ToRekey != 4 || r.ToRekeyBytes != 120 || r.Already != 1 || r.SkippedSSEC != 1 || r.SkippedEncrypted != 0 {
		t.Errorf("counts: got %+v", r)
	}

	r = RekeyReport{}
	todo = planRekey(&r, objs, RekeyOptions{Target: BucketMode{Mode: ModeSSES3}, OnlyPlaintext: true})
	if len(todo) != 1 || todo[0].Key != "a" || r.SkippedEncrypted != 3 || r.Already != 1 || r.SkippedSSEC != 1 {
		t.Errorf("--only-plaintext to SSE-S3: got %v, %+v", todo, r)
	}
}

func TestRekeySampled(t *testing.T) {
	var got []int
	for i := range 301 {
		if sampled(i) {
			got = append(got, i)
		}
	}
	if want := []int{0, 1, 2, 100, 200, 300}; !reflect.DeepEqual(got, want) {
		t.Errorf("sampled: got %v, want %v", got, want)
	}
}

func TestRekeyDefaultMatches(t *testing.T) {
	kms := BucketMode{Mode: ModeSSEKMS, Key: "b"}
	for _, c := range []struct {
		enc    BucketEncryption
		target BucketMode
		want   bool
	}{
		{BucketEncryption{Algorithm: "aws:kms", KeyID: "b"}, kms, true},
		{BucketEncryption{Algorithm: "aws:kms", KeyID: "arn:aws:kms:b"}, kms, true},
		{BucketEncryption{Algorithm: "aws:kms", KeyID: "a"}, kms, false},
		{BucketEncryption{Algorithm: "AES256"}, kms, false},
		{BucketEncryption{}, kms, false},
		{BucketEncryption{Algorithm: "AES256"}, BucketMode{Mode: ModeSSES3}, true},
		{BucketEncryption{}, BucketMode{Mode: ModeSSES3}, false},
	} {
		if got := defaultMatches(c.enc, c.target); got != c.want {
			t.Errorf("defaultMatches(%+v, %v) = %v, want %v", c.enc, c.target, got, c.want)
		}
	}
}
