//go:build !unix

package main

func useBLASEnv() {}
