//go:build kescloud

package keystore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/minio/kes"
	"github.com/minio/kes/kesconf"
)

// With -tags kescloud, a --kes-config file may name any keystore KES
// v0.24.0 knows (aws, azure, gcp, entrust, fortanix, gemalto, kes): KES's
// own configuration code reads it. This links those keystores' SDKs into
// sselab, and their package initialisation makes every start slower.
func init() { cloudKeyStore = kesconfKeyStore }

// kesconfPlaceholders stand in for the sections kesconf requires but
// sselab replaces with its own (it serves its own PKI, without admin).
const kesconfPlaceholders = "tls:\n  key: sselab-generated\n  cert: sselab-generated\nadmin:\n  identity: disabled\n"

// kesconfKeyStore reads the keystore of raw with kesconf.
func kesconfKeyStore(path string, raw []byte, explain func(error) string) (func(context.Context) (kes.KeyStore, error), error) {
	doc := append(bytes.TrimRight(raw, "\n"), '\n')
	file, err := kesconf.ReadFrom(bytes.NewReader(append(doc, kesconfPlaceholders...)))
	if err != nil {
		return nil, fmt.Errorf("keystore: --kes-config %s: %s", path, explain(err))
	}
	if file.KeyStore == nil {
		return nil, fmt.Errorf("keystore: --kes-config %s has an empty keystore section", path)
	}
	return func(ctx context.Context) (kes.KeyStore, error) {
		return file.KeyStore.Connect(context.WithoutCancel(ctx))
	}, nil
}
