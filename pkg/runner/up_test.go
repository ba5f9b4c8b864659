package runner

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sselab/sselab/internal/testtools"
	"github.com/sselab/sselab/pkg/lab"
	"github.com/sselab/sselab/pkg/labdir"
	"github.com/sselab/sselab/pkg/miniobin"
	"github.com/sselab/sselab/pkg/pki"
)

func defaultSettings() labdir.Settings {
	return labdir.Settings{
		Address:        labdir.DefaultAddress,
		ConsoleAddress: labdir.DefaultConsoleAddress,
		KESAddress:     labdir.DefaultKESAddress,
		WebAddress:     labdir.DefaultWebAddress,
		Key:            labdir.DefaultKey,
		Buckets:        []string{labdir.DefaultBucket},
		Shape:          labdir.Shape{Nodes: 1, Drives: 1},
	}
}

func TestMergeSettingsDefaults(t *testing.T) {
	t.Parallel()
	for _, root := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		layout := labdir.Layout{Root: root}
		got, _, err := mergeSettings(layout, Options{Dir: root})
		if err != nil {
			t.Fatalf("mergeSettings(%s): %v", root, err)
		}
		if want := defaultSettings(); !reflect.DeepEqual(got, want) {
			t.Errorf("mergeSettings(%s): got %+v, want %+v", root, got, want)
		}
		// labdir.Settings are only remembered once a lab became ready.
		if testtools.Exists(t, layout.SettingsFile()) {
			t.Errorf("mergeSettings wrote %s, want it left alone", layout.SettingsFile())
		}
	}
}

func TestMergeSettingsRemembered(t *testing.T) {
	t.Parallel()
	layout := labdir.Layout{Root: t.TempDir()}
	remembered := labdir.Settings{
		Address:        "127.0.0.1:9100",
		ConsoleAddress: "127.0.0.1:9101",
		KESAddress:     "127.0.0.1:7474",
		WebAddress:     "127.0.0.1:9543",
		Key:            "remembered-key",
		Shape:          labdir.Shape{Nodes: 1, Drives: 1},
		Buckets:        []string{"one", "two"},
		HTTP:           true,
	}
	if err := labdir.WriteJSON(layout.SettingsFile(), remembered); err != nil {
		t.Fatal(err)
	}
	got, _, err := mergeSettings(layout, Options{Dir: layout.Root})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, remembered) {
		t.Errorf("got %+v, want the remembered %+v", got, remembered)
	}

	// Explicit options win over remembered settings.
	http := false
	o := Options{
		Dir:            layout.Root,
		Address:        "0.0.0.0:9200",
		ConsoleAddress: "[::1]:9201",
		KESAddress:     "localhost:0",
		WebAddress:     "localhost:0",
		Key:            "given-key",
		Shape:          labdir.Shape{Nodes: 2, Drives: 2},
		Buckets:        []string{"zzz", "aaa", "zzz", "mmm", "aaa"},
		HTTP:           &http,
	}
	got, _, err = mergeSettings(layout, o)
	if err != nil {
		t.Fatal(err)
	}
	want := labdir.Settings{
		Address:        "0.0.0.0:9200",
		ConsoleAddress: "[::1]:9201",
		KESAddress:     "localhost:0",
		WebAddress:     "localhost:0",
		Key:            "given-key",
		Shape:          labdir.Shape{Nodes: 2, Drives: 2},
		Buckets:        []string{"aaa", "mmm", "zzz"},
		HTTP:           false,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(o.Buckets, []string{"zzz", "aaa", "zzz", "mmm", "aaa"}) {
		t.Errorf("mergeSettings changed the caller's buckets to %q", o.Buckets)
	}

	// Options override one by one; the rest stays remembered.
	got, _, err = mergeSettings(layout, Options{Dir: layout.Root, Key: "other"})
	if err != nil {
		t.Fatal(err)
	}
	want = remembered
	want.Key = "other"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMergeSettingsPartialFile(t *testing.T) {
	t.Parallel()
	// A settings file with only some fields: the rest get defaults.
	layout := labdir.Layout{Root: t.TempDir()}
	testtools.WriteFile(t, layout.SettingsFile(), `{"key": "k1", "buckets": []}`)
	got, _, err := mergeSettings(layout, Options{Dir: layout.Root})
	if err != nil {
		t.Fatal(err)
	}
	want := defaultSettings()
	want.Key = "k1"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMergeSettingsHTTP(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		remembered bool
		given      *bool
		want       bool
	}{
		{false, nil, false},
		{true, nil, true},
		{false, &yes, true},
		{true, &yes, true},
		{false, &no, false},
		{true, &no, false},
	}
	for _, tt := range tests {
		layout := labdir.Layout{Root: t.TempDir()}
		s := defaultSettings()
		s.HTTP = tt.remembered
		if err := labdir.WriteJSON(layout.SettingsFile(), s); err != nil {
			t.Fatal(err)
		}
		got, _, err := mergeSettings(layout, Options{Dir: layout.Root, HTTP: tt.given})
		if err != nil {
			t.Fatal(err)
		}
		given := "nil"
		if tt.given != nil {
			given = strconv.FormatBool(*tt.given)
		}
		if got.HTTP != tt.want {
			t.Errorf("remembered %v, given %s: got HTTP %v, want %v", tt.remembered, given, got.HTTP, tt.want)
		}
	}
}

func TestMergeSettingsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"address without port", Options{Address: "127.0.0.1"}, []string{"--address", `"127.0.0.1"`, "host:port"}},
		{"address without host", Options{Address: ":9000"}, []string{"--address", `":9000"`, "no host"}},
		{"address port 70000", Options{Address: "127.0.0.1:70000"}, []string{"--address", `"127.0.0.1:70000"`, "0 to 65535"}},
		{"address port not a number", Options{Address: "127.0.0.1:s3"}, []string{"--address", `"127.0.0.1:s3"`, "0 to 65535"}},
		{"console without port", Options{ConsoleAddress: "localhost"}, []string{"--console-address", `"localhost"`}},
		{"console port 70000", Options{ConsoleAddress: "127.0.0.1:70000"}, []string{"--console-address", "70000"}},
		{"kes without host", Options{KESAddress: ":7373"}, []string{"--kes-address", `":7373"`}},
		{"kes port not a number", Options{KESAddress: "127.0.0.1:kes"}, []string{"--kes-address", `"127.0.0.1:kes"`}},
		{"key with slash", Options{Key: "a/b"}, []string{"invalid key name", `"a/b"`}},
		{"key of 81 chars", Options{Key: strings.Repeat("k", 81)}, []string{"invalid key name", strings.Repeat("k", 81)}},
		{"key starting with dash", Options{Key: "-x"}, []string{"invalid key name", `"-x"`}},
		{"bucket uppercase", Options{Buckets: []string{"AB"}}, []string{"invalid bucket name", `"AB"`}},
		{"bucket too short", Options{Buckets: []string{"a"}}, []string{"invalid bucket name", `"a"`}},
		{"bucket double dot", Options{Buckets: []string{"x..y"}}, []string{"invalid bucket name", `"x..y"`}},
		{"bucket underscore", Options{Buckets: []string{"my_bucket"}}, []string{"invalid bucket name", `"my_bucket"`}},
		{"one bad bucket among good", Options{Buckets: []string{"good", "my_bucket"}}, []string{`"my_bucket"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.o.Dir = t.TempDir()
			_, _, err := mergeSettings(labdir.Layout{Root: tt.o.Dir}, tt.o)
			testtools.WantErrContains(t, err, tt.want...)
		})
	}
}

func TestMergeSettingsBadFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"not json", `{"address": `, []string{"settings.json", "damaged"}},
		{"wrong type", `{"buckets": "one"}`, []string{"settings.json", "damaged"}},
		{"empty file", ``, []string{"settings.json", "damaged"}},
		{"remembered bad address", `{"address": "nohost"}`, []string{"--address", `"nohost"`}},
		{"remembered bad key", `{"key": "a/b"}`, []string{"invalid key name", `"a/b"`}},
		{"remembered bad bucket", `{"buckets": ["AB"]}`, []string{"invalid bucket name", `"AB"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			layout := labdir.Layout{Root: t.TempDir()}
			testtools.WriteFile(t, layout.SettingsFile(), tt.file)
			_, _, err := mergeSettings(layout, Options{Dir: layout.Root})
			testtools.WantErrContains(t, err, tt.want...)
			if strings.Contains(tt.want[0], "settings.json") {
				testtools.WantErrContains(t, err, layout.SettingsFile())
			}
		})
	}

	// A remembered bad value is fixed by giving a good one.
	layout := labdir.Layout{Root: t.TempDir()}
	testtools.WriteFile(t, layout.SettingsFile(), `{"address": "nohost", "key": "a/b"}`)
	got, _, err := mergeSettings(layout, Options{Dir: layout.Root, Address: "127.0.0.1:9000", Key: "good"})
	if err != nil {
		t.Fatalf("overriding bad remembered values: got %v, want nil", err)
	}
	if got.Address != "127.0.0.1:9000" || got.Key != "good" {
		t.Errorf("got address %q key %q, want 127.0.0.1:9000 and good", got.Address, got.Key)
	}
}

func TestSnapshotDirCreated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	testtools.WriteFile(t, filepath.Join(dir, "sselab.lock"), "1") // what Up has made when it snapshots
	undo, err := snapshotDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	testtools.WriteFile(t, filepath.Join(dir, "certs", "ca.crt"), "x")
	testtools.WriteFile(t, filepath.Join(dir, "kes", "keys", "k"), "x")
	testtools.WriteFile(t, filepath.Join(dir, "sselab.lock"), "1")
	undo()
	if testtools.Exists(t, dir) {
		t.Errorf("after undo: %s exists, want it removed", dir)
	}
}

// TestSnapshotDirCreatedButFilled covers two racing `up`s on a new
// directory: the loser created it too, but once it holds the lock the
// directory holds the winner's lab, which its undo must keep.
func TestSnapshotDirCreatedButFilled(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "lab")
	testtools.WriteFile(t, filepath.Join(dir, "kes", "keys", "k"), "other lab's key")
	undo, err := snapshotDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	testtools.WriteFile(t, filepath.Join(dir, "certs", "ca.crt"), "x")
	undo()
	if got, want := testtools.Entries(t, dir), []string{"kes"}; !slices.Equal(got, want) {
		t.Errorf("after undo: got entries %q, want %q", got, want)
	}
}

func TestSnapshotDirExisting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		before  []string // top-level testtools.Entries before the snapshot
		created []string // top-level testtools.Entries created after it
		want    []string // testtools.Entries after undo
	}{
		{"new files and dirs", []string{"a", "b"}, []string{"c", "certs", "logs"}, []string{"a", "b"}},
		{"nothing new", []string{"a", "b"}, nil, []string{"a", "b"}},
		{"empty dir", nil, []string{"certs", "kes", "minio"}, nil},
		{"new keystore next to old data is kept", []string{"minio", "certs"}, []string{"kes", "logs", "state.json"}, []string{"certs", "kes", "minio"}},
		{"new keystore and new data are removed", []string{"a"}, []string{"kes", "minio", "credentials.json"}, []string{"a"}},
		{"old keystore stays", []string{"kes", "minio"}, []string{"certs"}, []string{"kes", "minio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, e := range tt.before {
				testtools.WriteFile(t, filepath.Join(dir, e, "old"), "old")
			}
			undo, err := snapshotDir(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.created {
				if strings.Contains(e, ".") {
					testtools.WriteFile(t, filepath.Join(dir, e), "new")
				} else {
					testtools.WriteFile(t, filepath.Join(dir, e, "new"), "new")
				}
			}
			// New files inside an old directory are not the snapshot's business.
			if len(tt.before) > 0 {
				testtools.WriteFile(t, filepath.Join(dir, tt.before[0], "new"), "new")
			}
			undo()
			if !testtools.Exists(t, dir) {
				t.Fatalf("after undo: %s is gone, want it kept", dir)
			}
			if got := testtools.Entries(t, dir); !slices.Equal(got, tt.want) {
				t.Errorf("after undo: got entries %q, want %q", got, tt.want)
			}
			for _, e := range tt.before {
				if !testtools.Exists(t, filepath.Join(dir, e, "old")) {
					t.Errorf("after undo: %s/old is gone, want it kept", e)
				}
			}
		})
	}
}

func TestSnapshotDirNotADirectory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	testtools.WriteFile(t, file, "x")
	_, err := snapshotDir(file, false)
	testtools.WantErrContains(t, err, "--dir", file)
}

func TestReserveInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	if n += 100; n > 65535 {
		n -= 200
	}
	suggestion := net.JoinHostPort("127.0.0.1", strconv.Itoa(n))

	for _, flag := range []string{"--address", "--console-address", "--kes-address", "--web-address"} {
		got, err := reserve(testtools.Context(t), flag, addr)
		if err == nil {
			got.Close()
			t.Fatalf("reserve(%s) while the test holds it: got nil error, want 'in use'", addr)
		}
		testtools.WantErrContains(t, err, "port "+port+" is in use", "pass "+flag+" "+suggestion)
	}
}

func TestReserveCannotListen(t *testing.T) {
	t.Parallel()
	// 192.0.2.1 (TEST-NET-1) is no address of this machine.
	_, err := reserve(testtools.Context(t), "--console-address", "192.0.2.1:0")
	testtools.WantErrContains(t, err, "cannot listen on 192.0.2.1:0", "--console-address")
}

func TestReserveFreePort(t *testing.T) {
	t.Parallel()
	ln, err := reserve(testtools.Context(t), "--address", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) || addr.Port <= 0 || addr.Port > 65535 {
		t.Errorf("reserve(127.0.0.1:0): got %s, want 127.0.0.1:<free port>", addr)
	}
	// Held: a second reservation of the concrete port fails.
	if ln2, err := reserve(testtools.Context(t), "--address", addr.String()); err == nil {
		ln2.Close()
		t.Errorf("reserve(%s) while reserved: got nil error, want one", addr)
	}
	ln.Close()
	// Released: MinIO (here: the test) can bind it.
	ln, err = net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("listen on the released %s: %v", addr, err)
	}
	ln.Close()
}

func TestStopClosesReservedPorts(t *testing.T) {
	t.Parallel()
	ln, err := reserve(testtools.Context(t), "--address", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{layout: labdir.Layout{Root: t.TempDir()}, stopReq: make(chan struct{}), nodes: []*node{{n: 1, s3: reservedListener{ln}}}}
	if err := l.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if l.nodes[0].s3.Listener != nil {
		t.Error("after Stop: the S3 listener is still reserved")
	}
	ln2, err := net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("after Stop: port %s still reserved: %v", ln.Addr(), err)
	}
	ln2.Close()
}

func TestCheckDistinct(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s3, console, kes, web string
		noWeb                 bool
		want                  []string // nil for no error
	}{
		{"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:7373", "127.0.0.1:9443", false, nil},
		{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", false, nil},
		{"127.0.0.1:9000", "127.0.0.1:9000", "127.0.0.1:7373", "127.0.0.1:9443", false, []string{"--console-address 127.0.0.1:9000", "--address 127.0.0.1:9000"}},
		{"127.0.0.1:9000", "127.0.0.1:9001", "0.0.0.0:9001", "127.0.0.1:9443", false, []string{"--kes-address 0.0.0.0:9001", "--console-address 127.0.0.1:9001"}},
		{"127.0.0.1:7373", "127.0.0.1:9001", "127.0.0.1:7373", "127.0.0.1:9443", false, []string{"--kes-address", "--address 127.0.0.1:7373"}},
		{"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:7373", "127.0.0.1:7373", false, []string{"--web-address 127.0.0.1:7373", "--kes-address 127.0.0.1:7373"}},
		// The console's port does not count when it is off.
		{"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:7373", "127.0.0.1:7373", true, nil},
	}
	for _, tt := range tests {
		err := checkDistinct(labdir.Settings{Address: tt.s3, ConsoleAddress: tt.console, KESAddress: tt.kes, WebAddress: tt.web}, !tt.noWeb)
		if tt.want == nil {
			if err != nil {
				t.Errorf("checkDistinct(%s, %s, %s): got %v, want nil", tt.s3, tt.console, tt.kes, err)
			}
			continue
		}
		testtools.WantErrContains(t, err, append(tt.want, "same port")...)
	}

	// mergeSettings applies it to remembered and given settings alike.
	layout := labdir.Layout{Root: t.TempDir()}
	_, _, err := mergeSettings(layout, Options{Dir: layout.Root, ConsoleAddress: labdir.DefaultAddress})
	testtools.WantErrContains(t, err, "--console-address "+labdir.DefaultAddress, "same port")
}

func TestCheckDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	testtools.WriteFile(t, file, "x")
	tests := []struct {
		dir  string
		want []string // nil for no error
	}{
		{dir, nil},
		{filepath.Join(dir, "missing", "lab"), nil},
		{"", []string{"no state directory given"}},
		{file, []string{"--dir " + file, "not a directory"}},
	}
	for _, tt := range tests {
		err := checkDir(tt.dir)
		if tt.want == nil {
			if err != nil {
				t.Errorf("checkDir(%q): got %v, want nil", tt.dir, err)
			}
			continue
		}
		testtools.WantErrContains(t, err, tt.want...)
	}
}

func TestDialable(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"0.0.0.0:9000", "127.0.0.1:9000"},
		{"[::]:9000", "127.0.0.1:9000"},
		{":9000", "127.0.0.1:9000"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"[::1]:9000", "[::1]:9000"},
		{"localhost:9000", "localhost:9000"},
		{"192.168.1.5:9000", "192.168.1.5:9000"},
		{"[fd00::5]:9000", "[fd00::5]:9000"},
		{"lab.example.com:443", "lab.example.com:443"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := dialable(tt.in); got != tt.want {
			t.Errorf("dialable(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExtraHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s3, console, kes string
		want             []string
	}{
		{"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:7373", nil},
		{"localhost:9000", "[::1]:9001", "127.0.0.2:7373", nil},
		{"0.0.0.0:9000", "[::]:9001", ":7373", nil},
		{"192.168.1.5:9000", "192.168.1.5:9001", "127.0.0.1:7373", []string{"192.168.1.5"}},
		{"lab.example.com:9000", "127.0.0.1:9001", "lab.example.com:7373", []string{"lab.example.com"}},
		{"10.0.0.1:9000", "lab.local:9001", "[fd00::5]:7373", []string{"10.0.0.1", "lab.local", "fd00::5"}},
		{"bad", "127.0.0.1:9001", "127.0.0.1:7373", nil},
	}
	for _, tt := range tests {
		s := labdir.Settings{Address: tt.s3, ConsoleAddress: tt.console, KESAddress: tt.kes}
		if got := extraHosts(s); !slices.Equal(got, tt.want) {
			t.Errorf("extraHosts(%s, %s, %s): got %q, want %q", tt.s3, tt.console, tt.kes, got, tt.want)
		}
	}
}

func TestMinIOEnv(t *testing.T) {
	t.Parallel()
	base := []string{
		"PATH=/usr/bin:/bin",
		"HOME=/home/u",
		"MINIO_KMS_SECRET_KEY=k:c2VjcmV0",
		"MINIO_ROOT_USER=inherited",
		"MINIO_ROOT_PASSWORD=inherited-password",
		"MINIO_KMS_KES_ENDPOINT=https://elsewhere:7373",
		"MINIO_VOLUMES=/elsewhere",
		"minio_kms_secret_key=k:windows-names-ignore-case",
		"MINIOX=kept",
		"MY_MINIO_THING=kept",
	}
	baseCopy := slices.Clone(base)
	p := &pki.PKI{
		Dir:         filepath.Join("lab", "certs"),
		MinIOClient: &pki.Cert{CertFile: filepath.Join("lab", "certs", "minio.crt"), KeyFile: filepath.Join("lab", "certs", "minio.key")},
	}
	c := labdir.Credentials{RootUser: "sselab-abc", RootPassword: "PASSWORD123"}
	env := minioEnv(base, c, "https://127.0.0.1:7373", p, "the-key")

	if !slices.Equal(base, baseCopy) {
		t.Errorf("minioEnv changed its base to %q", base)
	}
	count := make(map[string]int)
	value := make(map[string]string)
	for _, kv := range env {
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Errorf("entry %q: not NAME=value", kv)
		}
		count[name]++
		value[name] = v
	}
	for name, n := range count {
		if n != 1 {
			t.Errorf("%s: got %d entries, want 1", name, n)
		}
	}
	for _, name := range []string{"MINIO_KMS_SECRET_KEY", "MINIO_VOLUMES", "minio_kms_secret_key"} {
		if _, ok := value[name]; ok {
			t.Errorf("%s is inherited, want it stripped", name)
		}
	}
	want := map[string]string{
		"PATH":                    "/usr/bin:/bin",
		"HOME":                    "/home/u",
		"MINIOX":                  "kept",
		"MY_MINIO_THING":          "kept",
		"MINIO_ROOT_USER":         "sselab-abc",
		"MINIO_ROOT_PASSWORD":     "PASSWORD123",
		"MINIO_KMS_KES_ENDPOINT":  "https://127.0.0.1:7373",
		"MINIO_KMS_KES_CERT_FILE": p.MinIOClient.CertFile,
		"MINIO_KMS_KES_KEY_FILE":  p.MinIOClient.KeyFile,
		"MINIO_KMS_KES_CAPATH":    p.CAFile(),
		"MINIO_KMS_KES_KEY_NAME":  "the-key",
	}
	for name, w := range want {
		if got, ok := value[name]; !ok || got != w {
			t.Errorf("%s: got %q (present %v), want %q", name, got, ok, w)
		}
	}
	// KES settings and MINIO_KMS_SECRET_KEY are mutually exclusive; so are
	// certificates and an API key.
	if _, ok := value["MINIO_KMS_KES_API_KEY"]; ok {
		t.Errorf("MINIO_KMS_KES_API_KEY is set, want client certificates only")
	}
}

func TestControlEndpoint(t *testing.T) {
	t.Parallel()
	ctx := testtools.Context(t)
	l := &Lab{layout: labdir.Layout{Root: t.TempDir()}, stopReq: make(chan struct{})}
	c, err := l.serveControl()
	if err != nil {
		t.Fatal(err)
	}
	l.control = c
	addr := c.addr
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Errorf("control endpoint on %s, want loopback only", addr)
	}
	stopped := func() bool {
		select {
		case <-l.stopReq:
			return true
		default:
			return false
		}
	}

	// A wrong token is refused and does not stop the lab.
	h := &lab.Handle{Layout: l.layout, State: labdir.State{PID: 4242, ControlAddress: addr, ControlToken: "wrong-token"}}
	err = h.Down(ctx)
	testtools.WantErrContains(t, err, "403", "/v1/stop")
	if stopped() {
		t.Errorf("a request with a wrong token stopped the lab")
	}
	h.State.ControlToken = ""
	testtools.WantErrContains(t, h.Down(ctx), "403")

	// The right token stops it; nobody holds the lock, so Down returns.
	h.State.ControlToken = c.token
	if err := h.Down(ctx); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if !stopped() {
		t.Errorf("after Down: the lab was not asked to stop")
	}
	if err := h.Down(ctx); err != nil {
		t.Errorf("second Down: got %v, want nil", err)
	}

	// Stop closes the endpoint, twice is fine.
	if err := l.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := l.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	// A dead endpoint while the lock is still held (a hung lab) is an
	// error that says the lab does not answer.
	lock, err := labdir.Lock(l.layout)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	testtools.WantErrContains(t, h.Down(short), "pid 4242", "does not answer")
}

func TestUpFailsEarly(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() }) // after the parallel subtests, unlike defer
	busyAddr := busy.Addr().String()
	_, busyPort, _ := net.SplitHostPort(busyAddr)
	free := "127.0.0.1:0"

	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // nil: dir does not exist
		o       Options
		want    []string
		locked  bool // the error wraps ErrLocked
	}{
		{name: "bad key on a fresh dir", o: Options{Key: "a/b"}, want: []string{"invalid key name"}},
		{name: "KES port in use on a fresh dir", o: Options{KESAddress: busyAddr}, want: []string{"port " + busyPort + " is in use", "--kes-address"}},
		{name: "S3 port in use on a fresh dir", o: Options{Address: busyAddr}, want: []string{"port " + busyPort + " is in use", "--address"}},
		{name: "console port in use on an old dir", o: Options{ConsoleAddress: busyAddr},
			prepare: func(t *testing.T, dir string) {
				testtools.WriteFile(t, filepath.Join(dir, "minio", "data", "x"), "old")
				testtools.WriteFile(t, filepath.Join(dir, "certs", "ca.crt"), "old")
			},
			want: []string{"port " + busyPort + " is in use", "--console-address"}},
		{name: "directory in use", locked: true,
			prepare: func(t *testing.T, dir string) {
				testtools.WriteFile(t, filepath.Join(dir, "kes", "keys", "k"), "old")
				lock, err := labdir.Lock(labdir.Layout{Root: dir})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(lock.Release)
			},
			want: []string{"already running", "'sselab down --dir "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "lab")
			var before []string
			if tt.prepare != nil {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				tt.prepare(t, dir)
				before = testtools.Entries(t, dir)
			}
			o := tt.o
			o.Dir = dir
			// Should Up get past the ports, it must fail fast, not find,
			// build or run a MinIO.
			o.MinIO = miniobin.Options{Flag: filepath.Join(t.TempDir(), "no-minio")}
			for _, a := range []*string{&o.Address, &o.ConsoleAddress, &o.KESAddress, &o.WebAddress} {
				if *a == "" {
					*a = free
				}
			}
			l, err := Up(testtools.Context(t), o)
			if err == nil {
				l.Stop()
				t.Fatalf("Up: got a running lab, want an error")
			}
			if l != nil {
				t.Errorf("Up: got a lab %p with the error, want nil", l)
			}
			testtools.WantErrContains(t, err, tt.want...)
			if got := errors.Is(err, labdir.ErrLocked); got != tt.locked {
				t.Errorf("errors.Is(ErrLocked): got %v, want %v", got, tt.locked)
			}
			if tt.prepare == nil {
				if testtools.Exists(t, dir) {
					t.Errorf("after the failure: %s exists with %q, want it removed", dir, testtools.Entries(t, dir))
				}
				return
			}
			if got := testtools.Entries(t, dir); !slices.Equal(got, before) {
				t.Errorf("after the failure: got entries %q, want %q as before", got, before)
			}
			if tt.locked && !labdir.Locked(labdir.Layout{Root: dir}) {
				t.Errorf("after the failure: the other holder lost its lock")
			}
		})
	}

	_, err = Up(testtools.Context(t), Options{})
	testtools.WantErrContains(t, err, "no state directory given")
	file := filepath.Join(t.TempDir(), "file")
	testtools.WriteFile(t, file, "x")
	_, err = Up(testtools.Context(t), Options{Dir: file})
	testtools.WantErrContains(t, err, "--dir "+file, "not a directory")
}

func TestReserveSuggestsAValidPort(t *testing.T) {
	t.Parallel()
	var ln net.Listener
	for port := 65535; port > 65435 && ln == nil; port-- {
		ln, _ = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	}
	if ln == nil {
		t.Skip("no free port above 65435")
	}
	defer ln.Close()
	_, err := reserve(t.Context(), "--address", ln.Addr().String())
	if err == nil {
		t.Fatal("reserve on a held port: got nil error")
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(port)
	want := "127.0.0.1:" + strconv.Itoa(n-100)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("reserve: got %q, want the suggestion %s (a port that exists)", err, want)
	}
}
