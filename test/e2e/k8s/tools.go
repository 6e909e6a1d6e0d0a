//go:build tools

// Package tools pins the commands that build.sh compiles, so that
// `go mod tidy` keeps their dependencies in go.mod/go.sum. It is never built.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
