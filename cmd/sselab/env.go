package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/sselab/sselab/pkg/lab"
)

const envUsage = `Usage: sselab env [--dir DIR] [--json]

Prints shell commands that point mc (alias "sselab"), the AWS CLI and SDKs,
and the kes CLI (as the operator identity) at the running lab:

  eval "$(sselab env)"

SSL_CERT_FILE makes programs in that shell that use Go's or OpenSSL's
trust store trust the lab CA, and only it.
`

func runEnv(args []string, stdout, _ io.Writer) error {
	var (
		dir     string
		jsonOut bool
	)
	fs := newFlags("env", &dir)
	fs.BoolVar(&jsonOut, "json", false, "")
	if err := parse(fs, args, &dir); err != nil {
		return err
	}
	h, err := lab.Open(dir)
	if err != nil {
		return err
	}
	vars, err := h.Env()
	if err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(vars)
	}
	for _, v := range vars {
		if v.Name == "SSL_CERT_FILE" {
			fmt.Fprintln(stdout, "# Go and OpenSSL programs in this shell now trust only the lab CA; 'unset SSL_CERT_FILE' before reaching other HTTPS sites.")
		}
		fmt.Fprintf(stdout, "export %s=%s\n", v.Name, shellQuote(v.Value))
	}
	return nil
}
