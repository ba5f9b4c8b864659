package keystore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
)

// KindKESConfig is the kind of the keystore a KES server configuration
// file names.
const KindKESConfig = "kes-config"

// kesConfigKind takes KES's keystore, cache and pre-defined keys from a
// KES server configuration file (the format of 'kes server --config'),
// such as the manual procedure's kes-config.yaml: any keystore KES
// supports. sselab still makes the TLS and the identities, and says which
// of the file's sections it replaces.
type kesConfigKind struct {
	file string // --kes-config
}

func (*kesConfigKind) Name() string  { return KindKESConfig }
func (*kesConfigKind) Usage() string { return "" }

func (k *kesConfigKind) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&k.file, "kes-config", "", "a KES server config `FILE` (kes server --config format): KES takes its keystore, cache and keys from it; sselab still makes the TLS and the identities and says what of the file it replaces; \"-\" goes back to the keystore in DIR")
}

// Chooses: --kes-config FILE chooses this kind, --kes-config - the
// keystore in DIR.
func (k *kesConfigKind) Chooses() (kind, flag string) {
	switch k.file {
	case "":
		return "", ""
	case "-":
		return Default, "--kes-config"
	}
	return KindKESConfig, "--kes-config"
}

func (k *kesConfigKind) Merge(ks *labdir.Keystore) error {
	if k.file != "" && k.file != "-" {
		abs, err := filepath.Abs(k.file)
		if err != nil {
			return fmt.Errorf("keystore: --kes-config: %w", err)
		}
		ks.KESConfig = abs
	}
	if ks.KESConfig == "" {
		return labdir.Invalid("keystore: --kms %s needs --kes-config FILE", KindKESConfig)
	}
	return nil
}

func (*kesConfigKind) Where(_ labdir.Layout, ks labdir.Keystore) string {
	return "the keystore of --kes-config " + ks.KESConfig
}

// Open reads and checks the file; the keystore it names is reached only
// by Connect.
func (k *kesConfigKind) Open(_ context.Context, ks *labdir.Keystore, env Env) (Store, error) {
	f, err := readKESFile(ks.KESConfig)
	if err != nil {
		return nil, err
	}
	return &kesConfigStore{file: f, where: k.Where(env.Layout, *ks), step: env.Step}, nil
}

// kesConfigStore is the keystore of a KES configuration file.
type kesConfigStore struct {
	file  *kesFile
	where string
	step  func(format string, args ...any)
}

// Connect connects to the file's keystore for as long as KES keeps it
// open, and says what of the file sselab replaced.
func (s *kesConfigStore) Connect(ctx context.Context) (kes.KeyStore, error) {
	f := s.file
	s.step("KES takes its keystore, cache and keys from %s; replaced by sselab:", f.path)
	for _, o := range f.Overridden {
		s.step("  %s", o)
	}
	ks, err := f.file.KeyStore.Connect(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("keystore: the keystore of --kes-config %s: %w", f.path, err)
	}
	return ks, nil
}

// Cache is the file's cache settings, or KES's defaults if it has none.
func (s *kesConfigStore) Cache() kes.CacheConfig {
	c := s.file.file.Cache
	if c == nil {
		return kesserver.DefaultConfig().Cache
	}
	return kes.CacheConfig{Expiry: c.Expiry, ExpiryUnused: c.ExpiryUnused, ExpiryOffline: c.ExpiryOffline}
}

// Keys are the keys the file says must exist.
func (s *kesConfigStore) Keys() []string {
	var names []string
	for _, k := range s.file.file.Keys {
		names = append(names, k.Name)
	}
	return names
}

func (s *kesConfigStore) Keep() error { return nil }

func (s *kesConfigStore) Summary() labdir.Summary {
	sum := labdir.Summary{Phrase: "keystore from " + s.file.path}
	if r := s.file.Replaced; len(r) > 0 {
		sum.Rows = [][2]string{{"", "sselab replaced the file's " + strings.Join(r, ", ") + " (see 'sselab up --help')"}}
	}
	return sum
}

// Health reports the keystore fine: whether KES reaches it shows in KES's
// own status.
func (s *kesConfigStore) Health(context.Context) labdir.KeystoreHealth {
	return labdir.KeystoreHealth{Kind: KindKESConfig, Where: s.where, OK: true}
}

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
		return nil, fmt.Errorf("keystore: --kes-config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("keystore: --kes-config %s is not YAML: %w", path, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("keystore: --kes-config %s is not a KES server configuration (no YAML mapping)", path)
	}
	doc := root.Content[0]
	f := &kesFile{path: path}
	present := map[string]bool{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		present[doc.Content[i].Value] = true
	}
	if !present["keystore"] {
		return nil, fmt.Errorf("keystore: --kes-config %s has no keystore section; add one (for example keystore: fs: path: ./keys, or vault: ...)", path)
	}
	if err := checkKeystoreKinds(path, doc); err != nil {
		return nil, err
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
		return nil, fmt.Errorf("keystore: --kes-config %s: %w", path, err)
	}
	rewritten := buf.Bytes()
	if f.file, err = kesconf.ReadFrom(bytes.NewReader(rewritten)); err != nil {
		return nil, fmt.Errorf("keystore: --kes-config %s: %s", path, mapLines(rewritten, doc).explain(err))
	}
	if f.file.KeyStore == nil {
		return nil, fmt.Errorf("keystore: --kes-config %s has an empty keystore section", path)
	}
	return f, nil
}

// keystoreKinds are the keystores kesconf v0.24.0 knows.
var keystoreKinds = []string{"fs", "kes", "vault", "fortanix", "gemalto", "gcp", "aws", "azure", "entrust"}

// checkKeystoreKinds names an unknown keystore kind, which kesconf would
// only report as "no keystore specified".
func checkKeystoreKinds(path string, doc *yaml.Node) error {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "keystore" {
			continue
		}
		ks := doc.Content[i+1]
		if ks.Kind != yaml.MappingNode {
			return fmt.Errorf("keystore: --kes-config %s line %d: keystore is not a mapping; write for example keystore: fs: path: ./keys", path, ks.Line)
		}
		for j := 0; j+1 < len(ks.Content); j += 2 {
			if kind := ks.Content[j]; !slices.Contains(keystoreKinds, kind.Value) {
				return fmt.Errorf("keystore: --kes-config %s line %d: unknown keystore kind %q; KES %s knows %s", path, kind.Line, kind.Value, kesserver.Version(), strings.Join(keystoreKinds, ", "))
			}
		}
	}
	return nil
}

// lineMap relates lines of the document kesconf reads (sselab's rewrite)
// to the lines and fields of the user's file.
type lineMap struct {
	line  map[int]int    // rewritten line -> the file's line
	field map[int]string // the file's line -> dotted field name
}

// mapLines walks the rewritten document (re-parsed from data) and the
// user's document side by side: the sections sselab keeps come first in
// the rewrite, in the file's order.
func mapLines(data []byte, orig *yaml.Node) lineMap {
	m := lineMap{line: map[int]int{}, field: map[int]string{}}
	var again yaml.Node
	if yaml.Unmarshal(data, &again) != nil || len(again.Content) == 0 {
		return m
	}
	var walk func(a, b *yaml.Node, name string)
	walk = func(a, b *yaml.Node, name string) {
		m.line[a.Line] = b.Line
		if name != "" {
			m.field[b.Line] = name // the deepest field on the line wins
		}
		for i := 0; i < len(a.Content) && i < len(b.Content); i++ {
			child := name
			if b.Kind == yaml.MappingNode {
				k := i - i%2
				child = strings.TrimPrefix(name+"."+b.Content[k].Value, ".")
			}
			walk(a.Content[i], b.Content[i], child)
		}
	}
	walk(again.Content[0], orig, "")
	return m
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// explain rewrites an error of kesconf to name the user's line and field,
// on one line.
func (m lineMap) explain(err error) string {
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(s string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
		orig, ok := m.line[n]
		if !ok {
			return s
		}
		if f := m.field[orig]; f != "" {
			return fmt.Sprintf("line %d (%s)", orig, f)
		}
		return fmt.Sprintf("line %d", orig)
	})
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "yaml: unmarshal errors:", "")), " ")
}
