//go:build !unix

package main

func useNativeBLASKernels() {}
