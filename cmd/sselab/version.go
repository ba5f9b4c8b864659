package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/sselab/sselab/pkg/kesserver"
)

const versionUsage = `Usage: sselab version

Prints the versions of sselab, the embedded KES and the Go toolchain.

{{flags}}
`

func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	var dir string
	if err := parse(newFlags("version", &dir), args, &dir); err != nil {
		return err
	}
	version, revision := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = " (" + s.Value + ")"
			}
		}
	}
	fmt.Fprintf(stdout, "sselab %s%s\nkes    %s (embedded)\ngo     %s %s/%s\n",
		version, revision, kesserver.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
