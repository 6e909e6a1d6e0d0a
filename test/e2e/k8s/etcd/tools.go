//go:build tools

// Package tools pins the etcd server command (package main of
// go.etcd.io/etcd/server/v3 in etcd 3.5) for `go mod tidy`. It is never built.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
