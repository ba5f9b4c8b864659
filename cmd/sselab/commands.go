package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

// A command is one subcommand of sselab. A new subcommand is a file of
// this package with its run function and usage text, and one line in
// commands.
type command struct {
	// name is what the user types: 'sselab NAME'.
	name string
	// summary is its line in 'sselab --help'.
	summary string
	// usage is its help: 'sselab NAME --help'. A line "{{flags}}" stands
	// for the list of the command's flags, made from its flag set.
	usage string
	// run runs it. ctx ends on Ctrl-C and SIGTERM. A *helpRequest error
	// prints the usage; usageError and *labdir.InvalidError exit 2.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// hidden keeps it out of 'sselab --help': nobody types it.
	hidden bool
}

// commands are sselab's subcommands, in the order 'sselab --help' lists
// them.
var commands = []command{
	{"up", "start the lab and run it until Ctrl-C or 'sselab down'", upUsage, runUp, false},
	{"down", "stop the lab running on a directory", downUsage, runDown, false},
	{"status", "check KES, its keystore, MinIO, the default key and the buckets", statusUsage, runStatus, false},
	{"node", "list, stop, kill and start the MinIO nodes of a lab of several", nodeUsage, runNode, false},
	{"env", "print the environment for mc, rclone, the AWS CLI and the kes CLI (or an s3cmd configuration)", envUsage, runEnv, false},
	{"minio", "fetch, build, list and choose the MinIO server binary", minioUsage, runMinIO, false},
	{"key", "create, import, list, describe and delete KES keys", keyUsage, runKey, false},
	{"bucket", "create buckets and set their default encryption", bucketUsage, runBucket, false},
	{"logs", "show KES's audit log: which identity used which key, and what KES refused", logsUsage, runLogs, false},
	{"verify", "prove that data at rest is encrypted, check by check", verifyUsage, runVerify, false},
	{"backup", "write an encrypted backup of the keys, certificates, credentials and settings; or verify one", backupUsage, runBackup, false},
	{"restore", "make a state directory from a backup, or put back lost keys", restoreUsage, runRestore, false},
	{"bench", "measure S3 throughput and latency per encryption mode, and KES's rate", benchUsage, runBench, false},
	{"identity", "print the KES identity of a certificate (as 'kes identity of')", identityUsage, runIdentity, false},
	{"pki", "show the lab's certificates, their identities and expiry", pkiUsage, runPKI, false},
	{"seal", "seal the running lab's sealed keystore: no key can be used until unseal", sealUsage, runSeal, false},
	{"unseal", "unseal the running lab's sealed keystore with its passphrase", unsealUsage, runUnseal, false},
	{"keystore", "convert the stopped lab's keystore into one sealed at rest under a passphrase", keystoreUsage, runKeystore, false},
	{"export", "write the lab out as files, a Podman pod, a Compose stack or a MinIO Operator tenant", exportUsage, runExport, false},
	{"version", "print the versions of sselab, KES and Go", versionUsage, runVersion, false},
	{watchdogCommand, "", watchdogUsage, runWatchdog, true},
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// topUsage is 'sselab --help', made from the command table.
func topUsage() string {
	var b strings.Builder
	b.WriteString(`sselab runs a MinIO server-side-encryption lab on this machine: an mTLS
PKI, an embedded KES key server, and MinIO with SSE-KMS encrypted buckets.

Usage:
  sselab <command> [flags]

Commands:
`)
	width := 0
	for _, c := range commands {
		if !c.hidden {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
		}
	}
	b.WriteString(`
Every command takes --dir DIR (default: $SSELAB_DIR, else the per-user
config directory). Run 'sselab <command> --help' for its flags.

Example:
  sselab up --detach
  eval "$(sselab env)"
  mc cp file.txt sselab/encrypted/ && mc stat sselab/encrypted/file.txt
`)
	return b.String()
}

// flagsMarker stands in a usage text for the list of the command's
// flags.
const flagsMarker = "{{flags}}"

// help is the command's usage text with its flags listed in place of
// the marker.
func (c command) help(fs *pflag.FlagSet) string {
	list := ""
	if fs != nil {
		list = flagList(fs)
	}
	return strings.Replace(c.usage, flagsMarker+"\n", list, 1)
}
