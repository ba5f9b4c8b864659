package lab

import (
	"strings"
	"testing"
	"time"
)

const (
	auditGenerate = `{"time":"2026-12-01T06:47:54.6Z","level":"INFO","msg":"secret key 'k1' used: generate","req":{"method":"POST","path":"/v1/key/generate/k1","ip":"127.0.0.1","identity":"aaaa"},"res":{"code":200,"time":326871}}`
	auditCreate   = `{"time":"2026-12-01T06:48:00Z","level":"INFO","msg":"secret key 'k2' created","req":{"method":"POST","path":"/v1/key/create/k2","ip":"127.0.0.1","identity":"bbbb"},"res":{"code":200,"time":1000}}`
	auditRefused  = `{"time":"2026-12-01T06:49:00Z","level":"WARN","msg":"access denied: identity not found","req":{"method":"POST","path":"/v1/key/decrypt/k1","ip":"127.0.0.1","identity":"0123456789abcdef0123"},"res":{"code":403}}`
	auditStatus   = `{"time":"2026-12-01T06:50:00Z","level":"WARN","msg":"access denied","req":{"method":"GET","path":"/v1/status","ip":"127.0.0.1","identity":""},"res":{"code":403}}`
)

var auditNames = map[string]string{"aaaa": "minio", "bbbb": "operator"}

func TestParseAuditLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line                 string
		who, op, key, result string
		latency              time.Duration
	}{
		{auditGenerate, "minio", "generate", "k1", "ok", 326871},
		{auditCreate, "operator", "create", "k2", "ok", 1000},
		{auditRefused, "0123456789ab", "decrypt", "k1", "refused", 0},
		{auditStatus, "-", "/v1/status", "", "refused", 0},
	}
	for _, tt := range tests {
		r, err := ParseAuditLine([]byte(tt.line), auditNames)
		if err != nil {
			t.Fatalf("%s: %v", tt.line, err)
		}
		if r.Who != tt.who || r.Operation != tt.op || r.Key != tt.key || r.Result() != tt.result || r.Latency != tt.latency {
			t.Errorf("%s: got who %q op %q key %q result %q latency %v; want %q %q %q %q %v", tt.line, r.Who, r.Operation, r.Key, r.Result(), r.Latency, tt.who, tt.op, tt.key, tt.result, tt.latency)
		}
	}
	for _, bad := range []string{"", "{}", "not json", `{"time":"2026-12-01T06:50:00Z"}`} {
		if _, err := ParseAuditLine([]byte(bad), auditNames); err == nil {
			t.Errorf("ParseAuditLine(%q): no error", bad)
		}
	}
}

func TestReadAudit(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{auditGenerate, "garbage", auditCreate, auditRefused, auditStatus}, "\n") + "\n" + auditCreate[:40]
	tests := []struct {
		f    AuditFilter
		want []string // operations
	}{
		{AuditFilter{}, []string{"generate", "create", "decrypt", "/v1/status"}},
		{AuditFilter{Key: "k1"}, []string{"generate", "decrypt"}},
		{AuditFilter{Identity: "minio"}, []string{"generate"}},
		{AuditFilter{Identity: "0123456789ABC"}, []string{"decrypt"}},
		{AuditFilter{Refused: true}, []string{"decrypt", "/v1/status"}},
		{AuditFilter{Since: time.Date(2026, 12, 1, 6, 48, 30, 0, time.UTC)}, []string{"decrypt", "/v1/status"}},
	}
	for _, tt := range tests {
		var got []string
		rep, err := ReadAudit(strings.NewReader(log), auditNames, tt.f, func(r AuditRecord) error {
			got = append(got, r.Operation)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%+v: got %v, want %v", tt.f, got, tt.want)
		}
		if rep.Bad != 1 || !rep.Partial {
			t.Errorf("%+v: report %+v, want 1 bad line and a partial last line", tt.f, rep)
		}
	}
}
