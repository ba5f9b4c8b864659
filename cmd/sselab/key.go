package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/sselab/sselab/pkg/lab"
)

const keyUsage = `Usage: sselab key <command> [--dir DIR] ...

Manages the keys in the lab's KES, as sselab's operator identity.

Commands:
  create NAME                 create a new AES-256 key
  import NAME --file FILE     import 32 bytes of key material (raw or base64;
                              FILE "-" reads standard input)
  list [PREFIX] [--json]      the keys whose names start with PREFIX
  describe NAME [--json]      algorithm, creation time and creator of a key
  delete NAME [--force]       delete a key for good; objects encrypted with it
                              become unreadable forever, so a key in use needs
                              --force (or, at a terminal, typing its name)

Examples:
  sselab key create photos-key
  head -c 32 /dev/urandom | base64 > key.b64 && sselab key import imported --file key.b64
  sselab key list photos
  sselab bucket create photos --sse-kms photos-key
`

func runKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		return errHelp // run prints the usage
	}
	var (
		dir, file      string
		jsonOut, force bool
	)
	sub := args[0]
	fs := newFlags("key "+sub, &dir)
	nargs := 1
	switch sub {
	case "create":
	case "import":
		fs.StringVar(&file, "file", "", "")
	case "list":
		fs.BoolVar(&jsonOut, "json", false, "")
		nargs = -1
	case "describe":
		fs.BoolVar(&jsonOut, "json", false, "")
	case "delete":
		fs.BoolVar(&force, "force", false, "")
	default:
		return usageError{fmt.Errorf("unknown command 'key %s'", sub)}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if nargs == 1 && fs.NArg() != 1 || nargs == -1 && fs.NArg() > 1 {
		return usageError{fmt.Errorf("'key %s' takes a key name", sub)}
	}
	h, err := openLab(&dir)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	switch sub {
	case "create":
		if err := h.CreateKey(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s created\n", name)
	case "import":
		material, err := readKeyFile(file)
		if err != nil {
			return err
		}
		if err := h.ImportKey(ctx, name, material); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s imported\n", name)
	case "list":
		keys, err := h.ListKeys(ctx, name)
		if err != nil {
			return err
		}
		if jsonOut {
			return writeJSON(stdout, keys)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED\tDEFAULT")
		for _, k := range keys {
			def := ""
			if k.Default {
				def = "yes (MinIO's KMS key)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.CreatedAt, def)
		}
		return tw.Flush()
	case "describe":
		k, err := h.DescribeKey(ctx, name)
		if err != nil {
			return err
		}
		if jsonOut {
			return writeJSON(stdout, k)
		}
		fmt.Fprintf(stdout, "Name       %s\nAlgorithm  %s\nCreated    %s\nCreated by %s\nDefault    %v\n", k.Name, k.Algorithm, k.CreatedAt, k.CreatedBy, k.Default)
	case "delete":
		err := h.DeleteKey(ctx, name, force)
		var inUse *lab.KeyInUseError
		if errors.As(err, &inUse) && isTerminal(os.Stdin) && isTerminal(stderr) {
			fmt.Fprintf(stderr, "%s\nType the key name to delete it anyway: ", strings.TrimPrefix(err.Error(), "lab: "))
			answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
			if strings.TrimSpace(answer) != name {
				return errors.New("not deleted")
			}
			err = h.DeleteKey(ctx, name, true)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s deleted\n", name)
	}
	return nil
}

// readKeyFile reads key material from a file or, for "-", standard input.
func readKeyFile(file string) ([]byte, error) {
	switch file {
	case "":
		return nil, usageError{errors.New("'key import' needs --file FILE (or --file - for standard input); key material never goes on the command line")}
	case "-":
		return io.ReadAll(io.LimitReader(os.Stdin, 4096))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key material: %w", err)
	}
	return b, nil
}
