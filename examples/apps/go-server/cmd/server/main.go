// go-server: a small HTTPS service for the deploy examples. It reports the version of the
// release it was started from (the REVISION file next to its binary) on /health. It serves
// HTTPS with the certificate in configs/certs/ (a shared path), or plain HTTP with -plain
// (inside a container, where TLS ends elsewhere).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8443"), "listen address")
	cert := flag.String("cert", "configs/certs/server.crt", "TLS certificate, relative to the binary's directory")
	key := flag.String("key", "configs/certs/server.key", "TLS private key, relative to the binary's directory")
	plain := flag.Bool("plain", false, "serve plain HTTP instead of HTTPS")
	flag.Parse()

	dir := binaryDir()
	version := releaseVersion(dir)
	server := &http.Server{Addr: *addr, Handler: routes(version), ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()

	log.Printf("go-server %s on %s (plain=%t)", version, *addr, *plain)
	var err error
	if *plain {
		err = server.ListenAndServe()
	} else {
		err = server.ListenAndServeTLS(inDir(dir, *cert), inDir(dir, *key))
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func routes(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": version})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "Hello from go-server %s\n", version)
	})
	return mux
}

// binaryDir is the real directory of the running binary: releases/<id>, even when the
// service manager started it through the current symlink.
func binaryDir() string {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Dir(exe)
}

// releaseVersion is the version= line of REVISION beside the binary (the engine writes
// version=, commit=, time= and environment= lines), else the version in the engine's
// .deploy-release.json there, else DEPLOY_VERSION.
func releaseVersion(dir string) string {
	if file, err := os.Open(filepath.Join(dir, "REVISION")); err == nil {
		defer file.Close()
		scanner := bufio.NewScanner(file)
		for scanner.Scan() {
			line := scanner.Text()
			if strings.HasPrefix(line, "version=") && len(line) > len("version=") {
				return strings.TrimSpace(strings.TrimPrefix(line, "version="))
			}
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, ".deploy-release.json")); err == nil {
		var record struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(data, &record) == nil && record.Version != "" {
			return record.Version
		}
	}
	return envOr("DEPLOY_VERSION", "unknown")
}

func inDir(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
