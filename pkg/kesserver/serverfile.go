package kesserver

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/minio/kes"
	"gopkg.in/yaml.v3"
)

// ServerFile is a configuration file for the standalone 'kes server
// --config FILE' (KES v0.24.0's format), the same server the lab embeds:
// admin disabled, client certificates required and verified against a
// CA, policies, cache, logs, and one keystore. Values may be ${VAR}
// references, which 'kes server' replaces from its environment.
type ServerFile struct {
	// Address is where KES listens, host:port.
	Address string
	// KeyFile, CertFile and CAFile are KES's TLS private key, its
	// certificate and the CA that client certificates must chain to.
	KeyFile, CertFile, CAFile string
	// Policies bind identities to the routes they may call.
	Policies []Policy
	// Cache is KES's key cache.
	Cache kes.CacheConfig
	// AuditLog turns KES's audit log (to its stdout) on.
	AuditLog bool
	// FSPath is the directory of a file keystore; FSPath or Vault is set.
	FSPath string
	// Vault is a Vault or OpenBao keystore.
	Vault *VaultKeyStore
}

// VaultKeyStore is the keystore section for Vault or OpenBao.
type VaultKeyStore struct {
	// Endpoint is Vault's address.
	Endpoint string
	// Engine is the KV engine's mount path, KVVersion "v1" or "v2".
	Engine, KVVersion string
	// Prefix is the path under the engine that holds the keys;
	// Namespace the Vault Enterprise or OpenBao namespace.
	Prefix, Namespace string
	// AppRoleEngine, AppRoleID and AppRoleSecret log in with AppRole;
	// AppRoleSecret is best a ${VAR} reference.
	AppRoleEngine, AppRoleID, AppRoleSecret string
	// K8sEngine, K8sRole and K8sJWT log in with Kubernetes auth instead.
	K8sEngine, K8sRole, K8sJWT string
	// CAFile holds the CAs of Vault's certificate; ClientCert and
	// ClientKey a client certificate Vault asks for.
	CAFile, ClientCert, ClientKey string
	// Ping is how often KES checks Vault's status.
	Ping time.Duration
}

// Marshal returns f as the YAML 'kes server --config' reads, after the
// comment lines header (each written as "# line").
func (f ServerFile) Marshal(header ...string) ([]byte, error) {
	if (f.FSPath == "") == (f.Vault == nil) {
		return nil, fmt.Errorf("kesserver: a server file needs exactly one keystore, fs or vault")
	}
	doc := mapping()
	doc.add("version", scalar("v1"))
	doc.add("address", scalar(f.Address))
	doc.add("admin", mapping().add("identity", scalar("disabled")).node())
	doc.add("tls", mapping().
		add("key", scalar(f.KeyFile)).
		add("cert", scalar(f.CertFile)).
		add("ca", scalar(f.CAFile)).
		add("auth", scalar("on")).node())
	doc.add("cache", mapping().add("expiry", mapping().
		add("any", scalar(f.Cache.Expiry.String())).
		add("unused", scalar(f.Cache.ExpiryUnused.String())).
		add("offline", scalar(f.Cache.ExpiryOffline.String())).node()).node())
	audit := "off"
	if f.AuditLog {
		audit = "on"
	}
	doc.add("log", mapping().add("error", scalar("on")).add("audit", scalar(audit)).node())
	policies := mapping()
	for _, p := range f.Policies {
		allow, ids := sequence(p.Allow...), sequence()
		for _, id := range p.Identities {
			ids.Content = append(ids.Content, scalar(id.String()))
		}
		policies.add(p.Name, mapping().add("allow", allow).add("identities", ids).node())
	}
	doc.add("policy", policies.node())
	ks := mapping()
	if f.FSPath != "" {
		ks.add("fs", mapping().add("path", scalar(f.FSPath)).node())
	} else {
		v := f.Vault
		m := mapping().add("endpoint", scalar(v.Endpoint)).add("engine", scalar(v.Engine))
		m.addIf("version", v.KVVersion).addIf("prefix", v.Prefix).addIf("namespace", v.Namespace)
		if v.AppRoleID != "" {
			m.add("approle", mapping().add("engine", scalar(v.AppRoleEngine)).
				add("id", scalar(v.AppRoleID)).add("secret", scalar(v.AppRoleSecret)).node())
		}
		if v.K8sRole != "" {
			m.add("kubernetes", mapping().add("engine", scalar(v.K8sEngine)).
				add("role", scalar(v.K8sRole)).add("jwt", scalar(v.K8sJWT)).node())
		}
		if v.CAFile != "" || v.ClientCert != "" {
			m.add("tls", mapping().addIf("key", v.ClientKey).addIf("cert", v.ClientCert).addIf("ca", v.CAFile).node())
		}
		if v.Ping > 0 {
			m.add("status", mapping().add("ping", scalar(v.Ping.String())).node())
		}
		ks.add("vault", m.node())
	}
	doc.add("keystore", ks.node())

	var b bytes.Buffer
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", h)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc.node()); err != nil {
		return nil, fmt.Errorf("kesserver: server file: %w", err)
	}
	return b.Bytes(), nil
}

// yamlMap builds a YAML mapping in the order its keys are added.
type yamlMap struct{ n *yaml.Node }

func mapping() yamlMap { return yamlMap{&yaml.Node{Kind: yaml.MappingNode}} }

func (m yamlMap) add(key string, value *yaml.Node) yamlMap {
	m.n.Content = append(m.n.Content, scalar(key), value)
	return m
}

// addIf adds key only when value is not empty.
func (m yamlMap) addIf(key, value string) yamlMap {
	if value != "" {
		m.add(key, scalar(value))
	}
	return m
}

func (m yamlMap) node() *yaml.Node { return m.n }

// scalar is a string value. Words that YAML 1.1 reads as booleans are
// quoted ("on", as KES's own examples write it), so that no parser takes
// them for true or false.
func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch strings.ToLower(s) {
	case "on", "off", "yes", "no", "y", "n", "true", "false":
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func sequence(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range items {
		n.Content = append(n.Content, scalar(s))
	}
	return n
}
