package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	"gopkg.in/yaml.v3"
)

// kesFile is a KES server configuration file (the format of
// 'kes server --config') that `up --kes-config` takes its keystore, cache
// and pre-defined keys from.
type kesFile struct {
	path string
	file *kesconf.File
	// Overridden says what of the file sselab replaces and why; Replaced
	// names those sections.
	Overridden []string
	Replaced   []string
}

// placeholderTLS stands in for a file's missing tls section: kesconf
// requires one, but sselab never uses it (it serves its own PKI).
const placeholderTLS = "sselab-generated"

// readKESFile parses a KES configuration file. ${VAR} references are
// expanded as KES does. The file's TLS, admin and policies are replaced by
// the lab's; everything that is replaced is listed in Overridden.
func readKESFile(path string) (*kesFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab: --kes-config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("lab: --kes-config %s is not YAML: %w", path, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("lab: --kes-config %s is not a KES server configuration (no YAML mapping)", path)
	}
	doc := root.Content[0]
	f := &kesFile{path: path}
	present := map[string]bool{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		present[doc.Content[i].Value] = true
	}
	if !present["keystore"] {
		return nil, fmt.Errorf("lab: --kes-config %s has no keystore section; add one (for example keystore: fs: path: ./keys, or vault: ...)", path)
	}
	for _, o := range []struct{ key, what string }{
		{"address", "address: sselab listens on --kes-address"},
		{"admin", "admin: disabled; sselab's operator identity manages keys"},
		{"tls", "tls: sselab serves its own lab PKI and requires client certificates of the lab CA"},
		{"policy", "policy: replaced by the 'minio' and 'operator' policies bound to the lab's identities (placeholder identities such as ${MINIO_API_KEY_HASH} are not used)"},
		{"log", "log: KES logs go to DIR/kes/error.log and audit.log"},
		{"api", "api: KES's default routes and timeouts"},
	} {
		if present[o.key] {
			f.Overridden = append(f.Overridden, o.what)
			f.Replaced = append(f.Replaced, o.key)
		}
	}
	// kesconf sees only what sselab uses (version, keystore, cache, keys)
	// and placeholders for what it requires: replaced parts, with their
	// ${VAR} references, can neither fail nor leak into the lab.
	kept := doc.Content[:0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		switch doc.Content[i].Value {
		case "address", "admin", "tls", "policy", "log", "api":
			continue
		}
		kept = append(kept, doc.Content[i], doc.Content[i+1])
	}
	scalar := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	doc.Content = append(kept,
		scalar("tls"), &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("key"), scalar(placeholderTLS), scalar("cert"), scalar(placeholderTLS)}},
		scalar("admin"), &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("identity"), scalar("disabled")}},
	)
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(&root); err != nil {
		return nil, fmt.Errorf("lab: --kes-config %s: %w", path, err)
	}
	if f.file, err = kesconf.ReadFrom(&buf); err != nil {
		return nil, fmt.Errorf("lab: --kes-config %s: %w", path, err)
	}
	if f.file.KeyStore == nil {
		return nil, fmt.Errorf("lab: --kes-config %s has an empty keystore section", path)
	}
	return f, nil
}

// keyStore connects to the file's keystore.
func (f *kesFile) keyStore(ctx context.Context) (kes.KeyStore, error) {
	ks, err := f.file.KeyStore.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("lab: the keystore of --kes-config %s: %w", f.path, err)
	}
	return ks, nil
}

// cache returns the file's cache settings, or def if it has none.
func (f *kesFile) cache(def kes.CacheConfig) kes.CacheConfig {
	c := f.file.Cache
	if c == nil {
		return def
	}
	return kes.CacheConfig{Expiry: c.Expiry, ExpiryUnused: c.ExpiryUnused, ExpiryOffline: c.ExpiryOffline}
}

// keys are the keys the file says must exist.
func (f *kesFile) keys() []string {
	var names []string
	for _, k := range f.file.Keys {
		names = append(names, k.Name)
	}
	return names
}
