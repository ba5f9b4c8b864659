package runner

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/labdir"
)

// TestCheckAdoptionRefuses covers the refusals that come before the drive
// is looked at: each one is a mistake on the command line (exit 2).
func TestCheckAdoptionRefuses(t *testing.T) {
	t.Parallel()
	scratch := t.TempDir()
	keyFile := filepath.Join(scratch, "static.key")
	testtools.WriteFile(t, keyFile, "old-key:"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="+"\n")
	used := filepath.Join(scratch, "used")
	testtools.WriteFile(t, filepath.Join(used, "settings.json"), "{}")
	drive := filepath.Join(scratch, "no-drive")
	for _, c := range []struct {
		name string
		dir  string
		o    Options
		want string
	}{
		{"drive without key", "new", Options{AdoptDrive: drive}, "--adopt-drive needs --static-key-file"},
		{"key without drive", "new", Options{StaticKeyFile: keyFile}, "--static-key-file goes with --adopt-drive"},
		{"not a new lab", used, Options{AdoptDrive: drive, StaticKeyFile: keyFile}, "--adopt-drive makes a new lab"},
		{"another default key", "new", Options{AdoptDrive: drive, StaticKeyFile: keyFile, Key: "sselab-key"}, "--key sselab-key is not the static key old-key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(t.TempDir(), dir)
			}
			_, err := checkAdoption(labdir.Layout{Root: dir}, &c.o)
			testtools.WantErrContains(t, err, c.want)
			if !errors.As(err, new(*labdir.InvalidError)) {
				t.Errorf("got %T, want a *labdir.InvalidError (exit 2)", err)
			}
		})
	}
	o := Options{AdoptDrive: drive, StaticKeyFile: keyFile}
	_, err := checkAdoption(labdir.Layout{Root: filepath.Join(scratch, "new")}, &o)
	testtools.WantErrContains(t, err, "--adopt-drive", "no-drive")
	if o.Key != "old-key" {
		t.Errorf("Key: got %q, want the static key's name old-key", o.Key)
	}
	if d, err := checkAdoption(labdir.Layout{Root: used}, &Options{}); d != nil || err != nil {
		t.Errorf("without adoption flags: got %v, %v; want nil, nil", d, err)
	}
}

func TestWithin(t *testing.T) {
	t.Parallel()
	root := filepath.Join(string(filepath.Separator), "srv", "minio")
	for _, c := range []struct {
		path string
		want bool
	}{
		{root, true},
		{filepath.Join(root, "lab"), true},
		{filepath.Join(root, "..", "lab"), false},
		{root + "-lab", false},
		{filepath.Join(root, "..data"), true},
	} {
		if got := within(root, c.path); got != c.want {
			t.Errorf("within(%s, %s): got %v, want %v", root, c.path, got, c.want)
		}
	}
}
