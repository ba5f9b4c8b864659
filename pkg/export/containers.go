package export

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// podName is the Podman pod and the Compose project of an export.
const podName = "minio-kes"

// mount is a host directory of the export (slash-separated, relative to
// the export) and where the containers see it.
type mount struct{ rel, at, opts string }

// mounts are the export's directories as the containers see them.
func (w *writer) mounts() (kes, minio []mount) {
	certs := mount{"certs", w.t.certs, "ro"}
	kes = []mount{certs, {"config/kes-config.yaml", w.t.at(w.t.config, "kes-config.yaml"), "ro"}}
	if w.lab.kms == "fs" {
		kes = append(kes, mount{dirKeys, w.t.keys, ""})
	}
	return kes, []mount{certs}
}

// minioArgs are the arguments of 'minio server' in a container: the
// drive comes from MINIO_VOLUMES.
func (w *writer) minioArgs() []string {
	args := []string{"server", "--address", ":" + w.t.s3Port, "--console-address", ":" + w.t.consolePort}
	if !w.lab.settings.HTTP {
		args = append(args, "--certs-dir", w.t.cert(dirMinIOTLS))
	}
	return args
}

// kesArgs are the arguments of the KES image's 'kes'.
func (w *writer) kesArgs() []string {
	return []string{"server", "--config", w.t.at(w.t.config, "kes-config.yaml")}
}

// imageNote is said wherever an image is named.
const imageNote = "The upstream images minio/minio and minio/kes were withdrawn in 2026: the images are --image-minio and --image-kes (build them, or use a registry of your own)."

// ownerNote says who may read the export's private files in a container.
const ownerNote = "the files are yours with mode 0600: rootless Podman (and Docker with user namespaces) maps you to the containers' root; an image that runs as another user needs the files chowned to it, or --userns=keep-id"

// podman writes pod.sh: the procedure's 'podman pod create' and 'podman
// run' commands, corrected.
func (w *writer) podman() error {
	kesMounts, minioMounts := w.mounts()
	vol := func(ms []mount) string {
		var b strings.Builder
		for _, m := range ms {
			opts := "Z"
			if m.opts != "" {
				opts = m.opts + ",Z"
			}
			fmt.Fprintf(&b, "  -v \"$here/%s:%s:%s\" \\\n", m.rel, m.at, opts)
		}
		return b.String()
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString(w.commented("# "))
	b.WriteString(`#
# The procedure's Podman commands, corrected: KES's policy allows exactly
# the routes MinIO calls (describe, list and status included), the one CA
# is certs/CAs/ca.cert everywhere, client certificates are required
# ("auth: on", not an ignored --auth flag), and MinIO starts once KES
# answers (it restarts until then).
# ` + imageNote + `
set -eu
here=$(cd "$(dirname "$0")" && pwd)
`)
	fmt.Fprintf(&b, "IMAGE_KES=${IMAGE_KES:-%s}\nIMAGE_MINIO=${IMAGE_MINIO:-%s}\n\n", w.o.ImageKES, w.o.ImageMinIO)
	fmt.Fprintf(&b, "podman pod create --name %s -p %s:%s -p %s:%s\n\n", podName, w.t.s3Port, w.t.s3Port, w.t.consolePort, w.t.consolePort)
	fmt.Fprintf(&b, "podman run -d --pod %s --name kes --restart=on-failure \\\n%s  \"$IMAGE_KES\" %s\n\n", podName, vol(kesMounts), strings.Join(w.kesArgs(), " "))
	fmt.Fprintf(&b, "podman volume exists minio-data || podman volume create minio-data\n")
	fmt.Fprintf(&b, "podman run -d --pod %s --name minio --restart=on-failure \\\n  --env-file \"$here/%s\" \\\n%s  -v minio-data:%s:Z \\\n  \"$IMAGE_MINIO\" %s\n",
		podName, fileMinIOEnv, vol(minioMounts), w.t.data, strings.Join(w.minioArgs(), " "))
	w.notes = append(w.notes, ownerNote)
	return w.write("pod.sh", []byte(b.String()), 0o700)
}

// composeFile is the part of the Compose specification the export uses.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string                      `yaml:"image"`
	Command     []string                    `yaml:"command"`
	EnvFile     []string                    `yaml:"env_file,omitempty"`
	Environment map[string]string           `yaml:"environment,omitempty"`
	Volumes     []string                    `yaml:"volumes"`
	Ports       []string                    `yaml:"ports,omitempty"`
	DependsOn   map[string]composeCondition `yaml:"depends_on,omitempty"`
	Healthcheck *composeHealthcheck         `yaml:"healthcheck,omitempty"`
	Restart     string                      `yaml:"restart"`
}

type composeCondition struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

// compose writes compose.yaml: KES and MinIO with healthchecks, MinIO
// started once KES is healthy.
func (w *writer) compose() error {
	kesMounts, minioMounts := w.mounts()
	vols := func(ms []mount) []string {
		var out []string
		for _, m := range ms {
			v := "./" + m.rel + ":" + m.at
			if m.opts != "" {
				v += ":" + m.opts
			}
			out = append(out, v)
		}
		return out
	}
	health := func(test ...string) *composeHealthcheck {
		return &composeHealthcheck{Test: test, Interval: "5s", Timeout: "5s", Retries: 12}
	}
	f := composeFile{
		Name: podName,
		Services: map[string]composeService{
			kesService: {
				Image:   w.o.ImageKES,
				Command: w.kesArgs(),
				// 'kes status' as MinIO: its policy allows /v1/status.
				Environment: map[string]string{
					"KES_SERVER":      "https://127.0.0.1:" + w.t.kesPort,
					"KES_CLIENT_CERT": w.t.cert(fileMinIOCert),
					"KES_CLIENT_KEY":  w.t.cert(fileMinIOKey),
				},
				Volumes:     vols(kesMounts),
				Healthcheck: health("CMD", "kes", "status", "-k"),
				Restart:     "unless-stopped",
			},
			minioService: {
				Image:       w.o.ImageMinIO,
				Command:     w.minioArgs(),
				EnvFile:     []string{"./" + fileMinIOEnv},
				Volumes:     append(vols(minioMounts), "minio-data:"+w.t.data),
				Ports:       []string{w.t.s3Port + ":" + w.t.s3Port, w.t.consolePort + ":" + w.t.consolePort},
				DependsOn:   map[string]composeCondition{kesService: {Condition: "service_healthy"}},
				Healthcheck: health("CMD", "mc", "ready", "local"),
				Restart:     "unless-stopped",
			},
		},
		Volumes: map[string]map[string]any{"minio-data": {}},
	}
	var b bytes.Buffer
	b.WriteString(w.commented("# "))
	b.WriteString("# " + imageNote + "\n")
	b.WriteString("# Copy the lab's drive into the minio-data volume to serve the lab's objects.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("export: compose: %w", err)
	}
	w.notes = append(w.notes, ownerNote, "the minio service's healthcheck runs 'mc ready local' inside the MinIO image: an image without mc needs another test")
	return w.write("compose.yaml", b.Bytes(), privatePerm)
}
