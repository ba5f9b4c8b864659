// Package labtest starts real labs (a real MinIO, the embedded KES) for
// the tests of the packages that work with a running lab.
package labtest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/runner"
)

// Up starts a lab with o, as 'sselab up' would, and stops it when the
// test ends. Fields left empty get: a new directory, free ports for every
// listener, the tests' MinIO and the test's log. It skips in short mode.
func Up(t testing.TB, o runner.Options) *lab.Handle {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a MinIO")
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "lab")
	}
	for _, a := range []*string{&o.Address, &o.ConsoleAddress, &o.KESAddress, &o.WebAddress} {
		if *a == "" {
			*a = "127.0.0.1:0"
		}
	}
	if o.MinIO.Flag == "" {
		o.MinIO = miniobin.Options{Flag: testtools.MinIO(t)}
	}
	if o.Log == nil {
		o.Log = t.Output()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	l, err := runner.Up(ctx, o)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { l.Stop() })
	h, err := lab.Open(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
