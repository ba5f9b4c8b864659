package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCloudSDKs: the sselab command links neither KES's configuration
// package nor the cloud SDKs its keystores bring. Their package
// initialisation alone made every start 40 ms slower (half of sselab's
// own start); they come in only with -tags kescloud.
func TestNoCloudSDKs(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, heavy := range []string{"github.com/minio/kes/kesconf", "github.com/aws/", "cloud.google.com/", "github.com/Azure/", "google.golang.org/grpc", "github.com/chromedp/"} {
			if strings.HasPrefix(pkg, heavy) {
				t.Errorf("sselab links %s", pkg)
			}
		}
	}
}
