// Command fakevault runs the fake HashiCorp Vault of package fakevault as
// a standalone server, for manual demos. It prints the server URL and the
// AppRole role_id; the secret_id and, on request, a root token go to files
// readable by the owner only, never to the command line.
//
//	go run ./internal/fakevault/cmd/fakevault --tls --ca-out ca.pem --secret-out secret-id
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/sselab/sselab/internal/fakevault"
	"github.com/sselab/sselab/internal/fsutil"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakevault:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := pflag.NewFlagSet("fakevault", pflag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8200", "listen address")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a certificate from a CA made at start")
	kvVersion := fs.Int("kv-version", 2, "KV version (1 or 2) of the secrets engine mounted at kv/")
	namespace := fs.String("namespace", "", "put kv/ and auth/approle/ into this namespace")
	caOut := fs.String("ca-out", "", "write the CA certificate (PEM) to this file (needs --tls)")
	secretOut := fs.String("secret-out", "", "write the AppRole secret_id to this file (mode 0600)")
	tokenOut := fs.String("root-token-out", "", "write a root token to this file (mode 0600)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *caOut != "" && !*useTLS {
		return errors.New("--ca-out needs --tls")
	}

	s, err := fakevault.Start(fakevault.Options{
		Addr:      *addr,
		TLS:       *useTLS,
		Mounts:    map[string]int{"kv": *kvVersion},
		Namespace: *namespace,
	})
	if err != nil {
		return err
	}
	defer s.Close()

	if *caOut != "" {
		if err := s.WriteCAFile(*caOut); err != nil {
			return err
		}
	}
	for _, f := range []struct{ path, value string }{{*secretOut, s.SecretID()}, {*tokenOut, s.RootToken()}} {
		if f.path == "" {
			continue
		}
		if err := fsutil.WriteFile(f.path, []byte(f.value+"\n"), fsutil.PrivatePerm); err != nil {
			return err
		}
	}

	fmt.Printf("fakevault %s listening on %s (kv/ is KV v%d)\n", fakevault.Version, s.URL(), *kvVersion)
	if *namespace != "" {
		fmt.Printf("namespace: %s\n", *namespace)
	}
	if *caOut != "" {
		fmt.Printf("CA certificate: %s\n", *caOut)
	}
	fmt.Printf("role_id: %s\n", s.RoleID())
	if *secretOut != "" {
		fmt.Printf("secret_id: in %s\n", *secretOut)
	} else {
		fmt.Printf("secret_id: %s (use --secret-out FILE to keep it off the terminal)\n", s.SecretID())
	}
	if *tokenOut != "" {
		fmt.Printf("root token: in %s\n", *tokenOut)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
