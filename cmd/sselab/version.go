package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

const versionUsage = `Usage: sselab version

Prints the versions of sselab, the embedded KES and the Go toolchain.
`

func runVersion(args []string, stdout, _ io.Writer) error {
	var dir string
	if err := parse(newFlags("version", &dir), args, &dir); err != nil {
		return err
	}
	version, revision, kesVersion := "(devel)", "", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = " (" + s.Value + ")"
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/minio/kes" {
				kesVersion = d.Version
			}
		}
	}
	fmt.Fprintf(stdout, "sselab %s%s\nkes    %s (embedded)\ngo     %s %s/%s\n",
		version, revision, kesVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
