package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/kes"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/sselab/sselab/pkg/kesserver"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/vault"
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
	s := &kesConfigStore{file: f, where: k.Where(env.Layout, *ks), step: env.Step}
	if f.vault != nil {
		s.vault = &vaultStore{cfg: f.vault, where: s.where, env: env}
	}
	return s, nil
}

// kesConfigStore is the keystore of a KES configuration file.
type kesConfigStore struct {
	file  *kesFile
	where string
	step  func(format string, args ...any)
	// vault runs a vault keystore as --kms vault does, and reports on it.
	vault *vaultStore
}

// Connect connects to the file's keystore for as long as KES keeps it
// open, and says what of the file sselab replaced.
func (s *kesConfigStore) Connect(ctx context.Context) (kes.KeyStore, error) {
	f := s.file
	s.step("KES takes its keystore, cache and keys from %s; replaced by sselab:", f.path)
	for _, o := range f.Overridden {
		s.step("  %s", o)
	}
	if s.vault != nil {
		return s.vault.Connect(ctx)
	}
	ks, err := f.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("keystore: the keystore of --kes-config %s: %w", f.path, err)
	}
	return ks, nil
}

// Cache is the file's cache settings, or KES's defaults if it has none.
func (s *kesConfigStore) Cache() kes.CacheConfig {
	if c := s.file.cache; c != nil {
		return *c
	}
	return kesserver.DefaultConfig().Cache
}

// Keys are the keys the file says must exist.
func (s *kesConfigStore) Keys() []string { return s.file.keys }

func (s *kesConfigStore) Keep() error { return nil }

func (s *kesConfigStore) Summary() labdir.Summary {
	sum := labdir.Summary{Phrase: "keystore from " + s.file.path}
	if r := s.file.Replaced; len(r) > 0 {
		sum.Rows = [][2]string{{"", "sselab replaced the file's " + strings.Join(r, ", ") + " (see 'sselab up --help')"}}
	}
	return sum
}

// Health reports a vault keystore as --kms vault does; any other fine:
// whether KES reaches it shows in KES's own status.
func (s *kesConfigStore) Health(ctx context.Context) labdir.KeystoreHealth {
	if s.vault != nil {
		h := s.vault.Health(ctx)
		h.Kind = KindKESConfig
		return h
	}
	return labdir.KeystoreHealth{Kind: KindKESConfig, Where: s.where, OK: true}
}

// kesFile is a KES server configuration file (the format of
// 'kes server --config') that `up --kes-config` takes its keystore, cache
// and pre-defined keys from.
type kesFile struct {
	path string
	// Overridden says what of the file sselab replaces and why; Replaced
	// names those sections.
	Overridden []string
	Replaced   []string
	cache      *kes.CacheConfig // nil: the file has none
	keys       []string
	// connect reaches the file's keystore; for a vault keystore, vault
	// holds its settings instead.
	connect func(context.Context) (kes.KeyStore, error)
	vault   *vault.Config
}

// kesYAML is what sselab reads of a KES server configuration, in KES
// v0.24.0's format: its version, keystore, cache and pre-defined keys.
type kesYAML struct {
	Version  string `yaml:"version"`
	KeyStore struct {
		FS *struct {
			Path string `yaml:"path"`
		} `yaml:"fs"`
		Vault *vaultYAML `yaml:"vault"`
		// KES's other keystores: see cloudKeyStore.
		KES      yaml.Node `yaml:"kes"`
		Fortanix yaml.Node `yaml:"fortanix"`
		Gemalto  yaml.Node `yaml:"gemalto"`
		GCP      yaml.Node `yaml:"gcp"`
		AWS      yaml.Node `yaml:"aws"`
		Azure    yaml.Node `yaml:"azure"`
		Entrust  yaml.Node `yaml:"entrust"`
	} `yaml:"keystore"`
	Cache *struct {
		Expiry struct {
			Any     time.Duration `yaml:"any"`
			Unused  time.Duration `yaml:"unused"`
			Offline time.Duration `yaml:"offline"`
		} `yaml:"expiry"`
	} `yaml:"cache"`
	Keys []struct {
		Name string `yaml:"name"`
	} `yaml:"keys"`
}

// vaultYAML is KES's 'keystore: vault:' section.
type vaultYAML struct {
	Endpoint  string `yaml:"endpoint"`
	Engine    string `yaml:"engine"`
	Version   string `yaml:"version"`
	Namespace string `yaml:"namespace"`
	Prefix    string `yaml:"prefix"`
	Transit   *struct {
		Engine string `yaml:"engine"`
		Key    string `yaml:"key"`
	} `yaml:"transit"`
	AppRole *struct {
		Engine    string    `yaml:"engine"`
		Namespace string    `yaml:"namespace"`
		ID        string    `yaml:"id"`
		Secret    string    `yaml:"secret"`
		Retry     yaml.Node `yaml:"retry"` // ignored, as KES v0.24.0 does
	} `yaml:"approle"`
	Kubernetes *struct {
		Engine    string    `yaml:"engine"`
		Namespace string    `yaml:"namespace"`
		Role      string    `yaml:"role"`
		JWT       string    `yaml:"jwt"`
		Retry     yaml.Node `yaml:"retry"`
	} `yaml:"kubernetes"`
	TLS struct {
		Key  string `yaml:"key"`
		Cert string `yaml:"cert"`
		CA   string `yaml:"ca"`
	} `yaml:"tls"`
	Status struct {
		Ping time.Duration `yaml:"ping"`
	} `yaml:"status"`
}

// cloudKeyStore, when this sselab is built with KES's cloud keystores
// (-tags kescloud), reaches any other keystore of a configuration file
// through KES's own configuration code: raw is the file reduced to what
// sselab keeps, and explain turns a parse error into one that names the
// file's lines. Without them it is nil: those keystores' SDKs would make
// every start of sselab 40 ms slower.
var cloudKeyStore func(path string, raw []byte, explain func(error) string) (func(context.Context) (kes.KeyStore, error), error)

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
	// Only what sselab uses (version, keystore, cache, keys) is read:
	// replaced parts, with their ${VAR} references, can neither fail nor
	// leak into the lab.
	kept := doc.Content[:0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		switch doc.Content[i].Value {
		case "address", "admin", "tls", "policy", "log", "api":
			continue
		}
		kept = append(kept, doc.Content[i], doc.Content[i+1])
	}
	doc.Content = kept
	if err := expandEnv(doc); err != nil {
		return nil, fmt.Errorf("keystore: --kes-config %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(&root); err != nil {
		return nil, fmt.Errorf("keystore: --kes-config %s: %w", path, err)
	}
	rewritten := buf.Bytes()
	var y kesYAML
	dec := yaml.NewDecoder(bytes.NewReader(rewritten))
	dec.KnownFields(true) // as KES: an unknown field is a mistake
	if err := dec.Decode(&y); err != nil {
		return nil, fmt.Errorf("keystore: --kes-config %s: %s", path, mapLines(rewritten, doc).explain(err))
	}
	if y.Version != "" && y.Version != "v1" {
		return nil, fmt.Errorf("keystore: --kes-config %s: invalid server config version %q; KES %s reads version v1", path, y.Version, kesserver.Version())
	}
	if c := y.Cache; c != nil {
		f.cache = &kes.CacheConfig{Expiry: c.Expiry.Any, ExpiryUnused: c.Expiry.Unused, ExpiryOffline: c.Expiry.Offline}
	}
	for _, k := range y.Keys {
		f.keys = append(f.keys, k.Name)
	}
	ks := y.KeyStore
	switch {
	case ks.FS != nil:
		if ks.FS.Path == "" {
			return nil, fmt.Errorf("keystore: --kes-config %s: keystore fs has no path", path)
		}
		dir := ks.FS.Path
		f.connect = func(ctx context.Context) (kes.KeyStore, error) { return kesserver.OpenFSKeyStore(ctx, dir) }
	case ks.Vault != nil:
		cfg, err := ks.Vault.config()
		if err != nil {
			return nil, fmt.Errorf("keystore: --kes-config %s: %w", path, err)
		}
		f.vault = cfg
	case cloudKeyStore != nil:
		if f.connect, err = cloudKeyStore(path, rewritten, mapLines(rewritten, doc).explain); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("keystore: --kes-config %s: this sselab runs KES's fs and vault keystores; the others need KES's cloud SDKs, which would slow every start by 40 ms: install an sselab with them ('go install -tags kescloud ./cmd/sselab') or use fs or vault", path)
	}
	return f, nil
}

// config turns the section into the settings of the lab's Vault keystore,
// refusing what that keystore does not do.
func (v *vaultYAML) config() (*vault.Config, error) {
	c := &vault.Config{
		Endpoint: v.Endpoint, Engine: v.Engine, KVVersion: v.Version, Prefix: v.Prefix, Namespace: v.Namespace,
		CAFile: v.TLS.CA, ClientCert: v.TLS.Cert, ClientKey: v.TLS.Key, StatusPing: v.Status.Ping,
	}
	if c.KVVersion == "" {
		c.KVVersion = vault.KVv1 // KES's default
	}
	if c.StatusPing == 0 {
		c.StatusPing = 15 * time.Second // KES's default
	}
	switch {
	case v.Transit != nil:
		return nil, errors.New("keystore vault: transit: sselab does not encrypt keys with a Vault transit key; remove the transit section")
	case v.AppRole != nil && v.AppRole.Namespace != "", v.Kubernetes != nil && v.Kubernetes.Namespace != "":
		return nil, errors.New("keystore vault: a namespace of its own for the login is not supported; log in in the keystore's namespace")
	case v.AppRole != nil:
		c.AppRole = &vault.AppRole{Engine: v.AppRole.Engine, ID: v.AppRole.ID, Secret: v.AppRole.Secret}
	case v.Kubernetes != nil:
		if !strings.ContainsAny(v.Kubernetes.JWT, `/\`) {
			return nil, errors.New("keystore vault: kubernetes: jwt must name the file with the service account token")
		}
		c.Kubernetes = &vault.Kubernetes{Engine: v.Kubernetes.Engine, Role: v.Kubernetes.Role, JWTFile: v.Kubernetes.JWT}
	}
	c.Normalize()
	switch {
	case c.Endpoint == "":
		return nil, errors.New("keystore vault: no endpoint; add endpoint: https://HOST:8200")
	case c.AppRole == nil && c.Kubernetes == nil:
		return nil, errors.New("keystore vault: no login; add an approle (id, secret) or kubernetes (role, jwt) section")
	case c.AppRole != nil && (c.AppRole.ID == "" || c.AppRole.Secret == ""):
		return nil, errors.New("keystore vault: approle needs an id and a secret")
	case (c.ClientCert == "") != (c.ClientKey == ""):
		return nil, errors.New("keystore vault: tls needs both a cert and a key, or neither")
	}
	return c, nil
}

// envRef is a whole value that names an environment variable: ${NAME}.
var envRef = regexp.MustCompile(`^\s*\$\{\s*([^}]+?)\s*\}\s*$`)

// expandEnv replaces, as KES does, every scalar value of the document
// that is a whole ${NAME} with the variable's value; a variable that is
// not set is an error naming its line.
func expandEnv(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if m := envRef.FindStringSubmatch(n.Value); m != nil {
			v, ok := os.LookupEnv(m[1])
			if !ok {
				return fmt.Errorf("line %d: the environment variable %s is not set", n.Line, m[1])
			}
			n.Value, n.Tag, n.Style = v, "", 0
		}
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // keys stay as they are
		}
		if err := expandEnv(c); err != nil {
			return err
		}
	}
	return nil
}

// keystoreKinds are the keystores KES v0.24.0 knows.
var keystoreKinds = []string{"fs", "kes", "vault", "fortanix", "gemalto", "gcp", "aws", "azure", "entrust"}

// checkKeystoreKinds names an unknown keystore kind.
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

// lineMap relates lines of the document sselab reads (its rewrite)
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

// explain rewrites a parse error to name the user's line and field,
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
