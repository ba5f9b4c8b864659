package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/sselab/sselab/pkg/keystore"
	"github.com/sselab/sselab/pkg/labdir"
)

// mergeSettings combines the options with the remembered settings and the
// defaults, validates the result, and returns it with the kind of
// keystore it names.
func mergeSettings(layout labdir.Layout, o Options) (labdir.Settings, keystore.Kind, error) {
	var s labdir.Settings
	if err := labdir.ReadJSON(layout.SettingsFile(), &s); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, nil, err
	}
	old := s.Keystore.Clone() // Choose changes s.Keystore in place
	pick := func(dst *string, given, def string) {
		switch {
		case given != "":
			*dst = given
		case *dst == "":
			*dst = def
		}
	}
	pick(&s.Address, o.Address, labdir.DefaultAddress)
	pick(&s.ConsoleAddress, o.ConsoleAddress, labdir.DefaultConsoleAddress)
	pick(&s.KESAddress, o.KESAddress, labdir.DefaultKESAddress)
	pick(&s.WebAddress, o.WebAddress, labdir.DefaultWebAddress)
	pick(&s.Key, o.Key, labdir.DefaultKey)
	if len(o.Buckets) > 0 {
		s.Buckets = slices.Compact(slices.Sorted(slices.Values(o.Buckets)))
	} else if len(s.Buckets) == 0 {
		s.Buckets = []string{labdir.DefaultBucket}
	}
	if o.HTTP != nil {
		s.HTTP = *o.HTTP
	}
	if err := mergeShape(layout, &s, o); err != nil {
		return s, nil, err
	}
	kind, err := o.Keystore.Choose(&s.Keystore)
	if err != nil {
		return s, nil, err
	}
	if err := checkKeystoreKept(layout, old, s.Keystore); err != nil {
		return s, nil, err
	}

	for _, a := range []struct{ flag, addr string }{
		{"--address", s.Address}, {"--console-address", s.ConsoleAddress}, {"--kes-address", s.KESAddress}, {"--web-address", s.WebAddress},
	} {
		if err := labdir.CheckAddress(a.flag, a.addr); err != nil {
			return s, nil, err
		}
	}
	if err := checkDistinct(s, !o.NoWeb); err != nil {
		return s, nil, err
	}
	if err := labdir.CheckKeyName(s.Key); err != nil {
		return s, nil, err
	}
	for _, b := range s.Buckets {
		if err := labdir.CheckBucketName(b); err != nil {
			return s, nil, err
		}
	}
	return s, kind, nil
}

// mergeShape sets the lab's shape from the options and the remembered
// one, and refuses a change once MinIO has written its drives: their
// format holds the number of drives and sets, and MinIO would refuse to
// start on them.
func mergeShape(layout labdir.Layout, s *labdir.Settings, o Options) error {
	old := s.Shape.Norm()
	s.Shape = old
	if o.Shape.Nodes != 0 {
		s.Shape.Nodes = o.Shape.Nodes
	}
	if o.Shape.Drives != 0 {
		s.Shape.Drives = o.Shape.Drives
	}
	if err := labdir.CheckShape(s.Shape); err != nil {
		return err
	}
	if o.AdoptDrive != "" && s.Shape.Total() > 1 {
		return labdir.Invalid("runner: --adopt-drive makes a lab of one node with one drive; leave out --nodes and --drives")
	}
	if s.Shape != old && hasMinIOData(layout) {
		return fmt.Errorf("runner: %s holds a lab of %s, and MinIO's drives keep the shape they were made with: start it with --nodes %d --drives %d (or without them), or use a new --dir for %s",
			layout.Root, old, old.Nodes, old.Drives, s.Shape)
	}
	return nil
}

// checkKeystoreKept refuses to start MinIO data with keys from another
// keystore than the one that encrypted it: MinIO would find its own
// configuration and every object unreadable. The keys themselves are not
// touched either way.
func checkKeystoreKept(layout labdir.Layout, old, cur labdir.Keystore) error {
	was, now := keystore.Where(layout, old), keystore.Where(layout, cur)
	if was == now {
		return nil
	}
	if !hasMinIOData(layout) {
		return nil // any keystore will do
	}
	return fmt.Errorf("runner: %s has MinIO data encrypted with keys in %s; starting it with %s would leave that data unreadable: use a new --dir for the new keystore, or start this one as before", layout.Root, was, now)
}

// hasMinIOData reports whether MinIO has written its drive: from then on
// its configuration and objects are encrypted with the lab's keys.
func hasMinIOData(layout labdir.Layout) bool {
	_, err := os.Stat(filepath.Join(layout.MinIODataDir(), ".minio.sys"))
	return err == nil
}

// checkDir fails unless dir is a directory or can become one.
func checkDir(dir string) error {
	if dir == "" {
		return errors.New("runner: no state directory given")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("runner: cannot use --dir %s: %w; pick a directory you can write to", dir, errors.Unwrap(err))
	case !fi.IsDir():
		return fmt.Errorf("runner: cannot use --dir %s: it is not a directory; pick a directory, or a path that does not exist yet", dir)
	}
	return nil
}

// checkDistinct refuses two services on the same port, every MinIO
// node's ports included; the lab console's counts when it is on.
func checkDistinct(s labdir.Settings, web bool) error {
	type service struct{ flag, addr, node string }
	s3, console, err := nodeAddresses(s)
	if err != nil {
		return err
	}
	services := []service{{"--address", s.Address, ""}, {"--console-address", s.ConsoleAddress, ""}, {"--kes-address", s.KESAddress, ""}}
	for k := 1; k < len(s3); k++ {
		node := fmt.Sprintf(" (MinIO node %d)", k+1)
		services = append(services, service{"--address", s3[k], node}, service{"--console-address", console[k], node})
	}
	if web {
		services = append(services, service{"--web-address", s.WebAddress, ""})
	}
	for i, a := range services {
		for _, b := range services[:i] {
			_, pa, _ := net.SplitHostPort(a.addr)
			_, pb, _ := net.SplitHostPort(b.addr)
			if pa == pb && pa != "0" {
				return labdir.Invalid("runner: %s %s%s uses the same port as %s %s%s; give each its own port", a.flag, a.addr, a.node, b.flag, b.addr, b.node)
			}
		}
	}
	return nil
}

// extraHosts returns the hosts of the listen addresses that the server
// certificates must name besides localhost and the loopback addresses.
func extraHosts(s labdir.Settings) []string {
	var hosts []string
	for _, a := range []string{s.Address, s.ConsoleAddress, s.KESAddress, s.WebAddress} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host == "" || host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			continue
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}
