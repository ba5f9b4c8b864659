package kesserver

import "testing"

func TestKeyUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, op, key string
		ok            bool
	}{
		{"/v1/key/generate/sselab-key", "generate", "sselab-key", true},
		{"/v1/key/decrypt/k", "decrypt", "k", true},
		{"/v1/key/encrypt/k", "encrypt", "k", true},
		{"/v1/key/hmac/k", "hmac", "k", true},
		{"/v1/key/generate/", "", "", false},
		{"/v1/key/create/k", "", "", false},
		{"/v1/key/describe/k", "", "", false},
		{"/v1/status", "", "", false},
	}
	for _, tt := range tests {
		op, key, ok := keyUse(tt.path)
		if op != tt.op || key != tt.key || ok != tt.ok {
			t.Errorf("keyUse(%q): got %q %q %v, want %q %q %v", tt.path, op, key, ok, tt.op, tt.key, tt.ok)
		}
	}
}
