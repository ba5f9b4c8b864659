package export

import (
	"context"
	"fmt"

	"github.com/sselab/sselab/pkg/kesserver"
)

// unsealKeys writes the keys of the lab's sealed keystore in clear, as
// KES's file keystore holds them, for 'kes server'.
func (w *writer) unsealKeys() error {
	pass, err := w.o.Passphrase()
	if err != nil {
		return fmt.Errorf("export: the sealed keystore's passphrase: %w", err)
	}
	defer clear(pass)
	ctx := context.Background()
	dir := w.lab.layout.SealedKeyStoreDir()
	store, err := kesserver.OpenSealedKeyStore(ctx, dir, pass)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer store.Close()
	names, err := kesserver.KeyNames(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	n := 0
	for _, name := range names {
		value, err := store.Get(ctx, name)
		if err != nil {
			return fmt.Errorf("export: key %s: %w", name, err)
		}
		err = w.write(dirKeys+"/"+name, value, privatePerm)
		clear(value)
		if err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("export: the lab's sealed keystore %s holds no key", dir)
	}
	w.notes = append(w.notes, fmt.Sprintf("%s holds the lab's %d key(s) in clear, unsealed from %s, as KES's file keystore does: keep it private, or move the keys to Vault", dirKeys, n, dir))
	return nil
}
