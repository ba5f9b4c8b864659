package export

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
)

// Names of the Kubernetes objects of an export: the Tenant and its
// Secrets, in the namespace k8sNamespace (the server certificates carry
// the service names there).
const (
	tenantName      = "sselab"
	k8sNamespace    = "default"
	secretEnv       = tenantName + "-env-configuration"
	secretKESConfig = tenantName + "-kes-configuration"
	secretKESTLS    = tenantName + "-kes-tls"
	secretMinIOKES  = tenantName + "-minio-kes-client"
	secretMinIOTLS  = tenantName + "-minio-tls"
	secretCA        = tenantName + "-ca"
	secretKESCA     = tenantName + "-kes-ca"
	secretVault     = tenantName + "-vault-approle"
	kesConfigKey    = "server-config.yaml" // the key the Operator reads in kesSecret
	// operatorKESCerts is where the Operator's KES pods see kesSecret,
	// their server certificate (server.crt, server.key) and, key by
	// key, the Secret spec.kes.clientCertSecret names.
	operatorKESCerts = "/tmp/kes"
)

// k8sHosts are the names MinIO and KES have in the Tenant's namespace.
func k8sHosts() []string {
	svc := "." + k8sNamespace + ".svc.cluster.local"
	return []string{
		tenantName + "-kes-hl-svc", tenantName + "-kes-hl-svc" + svc, "*." + tenantName + "-kes-hl-svc" + svc,
		"minio", "minio" + svc, tenantName + "-hl" + svc, "*." + tenantName + "-hl" + svc,
	}
}

// k8sObject is the part of a Kubernetes object the export writes.
type k8sObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Type       string            `yaml:"type,omitempty"`
	StringData map[string]string `yaml:"stringData,omitempty"`
	Spec       *tenantSpec       `yaml:"spec,omitempty"`
}

type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

type nameRef struct {
	Name string `yaml:"name"`
}

type certRef struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// tenantSpec is the part of the Operator's TenantSpec
// (minio.min.io/v2) the export sets.
type tenantSpec struct {
	Image                    string     `yaml:"image"`
	Configuration            nameRef    `yaml:"configuration"`
	Pools                    []pool     `yaml:"pools"`
	RequestAutoCert          bool       `yaml:"requestAutoCert"`
	ExternalCertSecret       []certRef  `yaml:"externalCertSecret,omitempty"`
	ExternalCaCertSecret     []certRef  `yaml:"externalCaCertSecret"`
	ExternalClientCertSecret certRef    `yaml:"externalClientCertSecret"`
	KES                      kesSpec    `yaml:"kes"`
	Buckets                  []nameOnly `yaml:"buckets,omitempty"`
}

type nameOnly struct {
	Name string `yaml:"name"`
}

type pool struct {
	Name                string `yaml:"name"`
	Servers             int    `yaml:"servers"`
	VolumesPerServer    int    `yaml:"volumesPerServer"`
	VolumeClaimTemplate struct {
		Metadata nameRef `yaml:"metadata"`
		Spec     struct {
			AccessModes []string `yaml:"accessModes"`
			Resources   struct {
				Requests map[string]string `yaml:"requests"`
			} `yaml:"resources"`
		} `yaml:"spec"`
	} `yaml:"volumeClaimTemplate"`
}

type kesSpec struct {
	Replicas           int      `yaml:"replicas"`
	Image              string   `yaml:"image"`
	KESSecret          nameRef  `yaml:"kesSecret"`
	ExternalCertSecret certRef  `yaml:"externalCertSecret"`
	ClientCertSecret   certRef  `yaml:"clientCertSecret"`
	KeyName            string   `yaml:"keyName"`
	Env                []envVar `yaml:"env,omitempty"`
}

type envVar struct {
	Name      string `yaml:"name"`
	ValueFrom struct {
		SecretKeyRef struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

// kubernetes writes tenant.yaml: the MinIO Operator Tenant with spec.kes,
// the KES configuration Secret, the TLS Secrets and the root credentials,
// as one multi-document YAML.
func (w *writer) kubernetes() error {
	if w.lab.kms != keystore.KindVault {
		return fmt.Errorf("export: --format kubernetes needs the keys in Vault: the Operator's KES pods have no persistent volume for a file keystore, so the lab's keys would be lost with the pod; export from a lab started with --kms vault")
	}
	p := w.lab.pki
	read := func(path string) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("export: reading the lab: %w", err)
		}
		return string(data), nil
	}
	ca, err := read(p.CAFile())
	if err != nil {
		return err
	}
	kesCert, err := p.ServerCertFor(p.KESServer, k8sHosts())
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	minioCert, err := p.ServerCertFor(p.MinIOTLS, k8sHosts())
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	tlsSecret := func(name, certPEM, keyFile string) (k8sObject, error) {
		key, err := read(keyFile)
		return k8sObject{APIVersion: "v1", Kind: "Secret", Metadata: w.k8sMeta(name), Type: "kubernetes.io/tls",
			StringData: map[string]string{"tls.crt": certPEM, "tls.key": key, "ca.crt": ca}}, err
	}
	kesTLS, err := tlsSecret(secretKESTLS, string(kesCert), p.KESServer.KeyFile)
	if err != nil {
		return err
	}
	minioTLS, err := tlsSecret(secretMinIOTLS, string(minioCert), p.MinIOTLS.KeyFile)
	if err != nil {
		return err
	}
	clientCert, err := read(p.MinIOClient.CertFile)
	if err != nil {
		return err
	}
	minioKES, err := tlsSecret(secretMinIOKES, clientCert, p.MinIOClient.KeyFile)
	if err != nil {
		return err
	}

	// The KES configuration as the Operator's KES pods see it. The lab
	// CA (to verify MinIO's client certificate) and Vault's CA reach
	// them through spec.kes.clientCertSecret, which the Operator mounts
	// key by key beside the server certificate.
	f := w.kes
	v := *f.Vault
	f.Vault = &v
	f.Address = "0.0.0.0:7373"
	f.KeyFile, f.CertFile, f.CAFile = operatorKESCerts+"/server.key", operatorKESCerts+"/server.crt", operatorKESCerts+"/ca.crt"
	kesCA := map[string]string{"ca.crt": ca}
	if w.lab.settings.Vault.CAFile != "" {
		vaultCA, err := read(w.lab.settings.Vault.CAFile)
		if err != nil {
			return err
		}
		kesCA["vault-ca.crt"] = vaultCA
		f.Vault.CAFile = operatorKESCerts + "/vault-ca.crt"
	}
	kesConfig, err := f.Marshal(w.header()...)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	key := w.lab.settings.Key
	if key == "" {
		key = labdir.DefaultKey
	}
	objects := []k8sObject{
		{APIVersion: "v1", Kind: "Secret", Metadata: w.k8sMeta(secretEnv), Type: "Opaque", StringData: map[string]string{
			"config.env": fmt.Sprintf("export MINIO_ROOT_USER=%q\nexport MINIO_ROOT_PASSWORD=%q\n", w.lab.creds.RootUser, w.lab.creds.RootPassword),
		}},
		{APIVersion: "v1", Kind: "Secret", Metadata: w.k8sMeta(secretKESConfig), Type: "Opaque", StringData: map[string]string{kesConfigKey: string(kesConfig)}},
		kesTLS, minioTLS, minioKES,
		{APIVersion: "v1", Kind: "Secret", Metadata: w.k8sMeta(secretCA), Type: "Opaque", StringData: map[string]string{"ca.crt": ca}},
		{APIVersion: "v1", Kind: "Secret", Metadata: w.k8sMeta(secretKESCA), Type: "Opaque", StringData: kesCA},
	}
	spec := &tenantSpec{
		Image:                    w.o.ImageMinIO,
		Configuration:            nameRef{secretEnv},
		RequestAutoCert:          false,
		ExternalCertSecret:       []certRef{{secretMinIOTLS, "kubernetes.io/tls"}},
		ExternalCaCertSecret:     []certRef{{secretCA, "Opaque"}},
		ExternalClientCertSecret: certRef{secretMinIOKES, "kubernetes.io/tls"},
		KES: kesSpec{
			Replicas:           2,
			Image:              w.o.ImageKES,
			KESSecret:          nameRef{secretKESConfig},
			ExternalCertSecret: certRef{secretKESTLS, "kubernetes.io/tls"},
			ClientCertSecret:   certRef{secretKESCA, "Opaque"},
			KeyName:            key,
		},
	}
	if w.lab.settings.HTTP {
		spec.ExternalCertSecret = nil
		objects = append(objects[:3], objects[4:]...) // no MinIO TLS Secret
	}
	if w.lab.settings.Vault.AppRole != nil {
		if w.o.IncludeSecrets {
			secret, err := read(w.lab.layout.VaultSecretFile())
			if err != nil {
				return err
			}
			objects = append(objects, k8sObject{APIVersion: "v1", Kind: "Secret", Metadata: w.k8sMeta(secretVault), Type: "Opaque", StringData: map[string]string{"secret-id": secret}})
		} else {
			w.notes = append(w.notes, fmt.Sprintf("create the Secret %s with the AppRole secret_id as 'secret-id' before applying: kubectl create secret generic %s --from-file=secret-id=%s", secretVault, secretVault, w.lab.layout.VaultSecretFile()))
		}
		var e envVar
		e.Name = VaultSecretEnv
		e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key = secretVault, "secret-id"
		spec.KES.Env = []envVar{e}
	}
	var pl pool
	pl.Name, pl.Servers, pl.VolumesPerServer = "pool-0", 4, 1
	pl.VolumeClaimTemplate.Metadata.Name = "data"
	pl.VolumeClaimTemplate.Spec.AccessModes = []string{"ReadWriteOnce"}
	pl.VolumeClaimTemplate.Spec.Resources.Requests = map[string]string{"storage": "10Gi"}
	spec.Pools = []pool{pl}
	for _, b := range w.lab.settings.Buckets {
		spec.Buckets = append(spec.Buckets, nameOnly{b})
	}
	objects = append(objects, k8sObject{APIVersion: "minio.min.io/v2", Kind: "Tenant", Metadata: w.k8sMeta(tenantName), Spec: spec})
	w.notes = append(w.notes, "tenant.yaml puts everything in namespace "+k8sNamespace+" with a pool of 4 servers and 10Gi volumes: decide both before 'kubectl apply -f tenant.yaml'; the buckets it names start empty (set their SSE-KMS default with 'mc encrypt set')")

	var b bytes.Buffer
	b.WriteString(w.commented("# "))
	b.WriteString("# " + imageNote + "\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, obj := range objects {
		if err := enc.Encode(obj); err != nil {
			return fmt.Errorf("export: kubernetes: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("export: kubernetes: %w", err)
	}
	return w.write("tenant.yaml", b.Bytes(), privatePerm)
}

func (w *writer) k8sMeta(name string) k8sMeta {
	return k8sMeta{Name: name, Namespace: k8sNamespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "sselab-export"}}
}
