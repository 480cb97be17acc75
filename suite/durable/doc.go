// Package durable writes files that a crash, a full disk or a second
// process can never leave half-written or silently corrupted: atomic
// replacement through a temporary file, a checksummed envelope for binary
// state such as checkpoints, and advisory locks that a dead process
// releases. The store of run records and the trainer's checkpoints both
// go through it, so a result on disk is always whole or absent.
package durable
